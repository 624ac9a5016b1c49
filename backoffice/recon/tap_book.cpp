#include "backoffice/recon/tap_book.h"

namespace faregate::recon {

TapBook::TapBook(const fares::FarePolicy& policy, std::int32_t service_day_start_s)
    : policy_(policy), service_day_start_s_(service_day_start_s), clock_(&policy.time_zones[0]) {}

std::uint32_t TapBook::device_index(const std::string& device_id) {
  auto [it, inserted] = device_index_.emplace(device_id, static_cast<std::uint32_t>(device_ids_.size()));
  if (inserted) device_ids_.push_back(device_id);
  return it->second;
}

void TapBook::add(std::span<const faregate::v1::TapRecord> records) {
  for (const auto& r : records) {
    const std::uint32_t device = device_index(r.device_id());
    const std::int32_t day = clock_.service_day(r.tap_time_utc_ms(), service_day_start_s_);
    DeviceDayCount& count = counts_[{device, day}];
    ++count.received;
    if (r.decision() != faregate::v1::DECISION_ACCEPT) {
      ++count.denied;
      continue;
    }
    auto card = fares::CardToken::from_bytes(faregate::as_bytes(r.card_token()));
    if (!card) {
      ++count.bad_card;
      continue;
    }
    fares::Tap tap;
    tap.card = *card;
    tap.utc_ms = r.tap_time_utc_ms();
    tap.stop = policy_.stop_index(r.stop_id());
    if (tap.stop == fares::kNone) tap.stop = fares::kUnknown;
    tap.route = policy_.route_index(r.route_id());
    switch (r.role()) {
      case faregate::v1::VALIDATOR_ROLE_ENTRY: tap.role = fares::TapRole::kEntry; break;
      case faregate::v1::VALIDATOR_ROLE_EXIT: tap.role = fares::TapRole::kExit; break;
      default: tap.role = fares::TapRole::kOnboard; break;
    }
    tap.device = device;
    tap.seq = r.seq();
    taps_.push_back(tap);
  }
}

}  // namespace faregate::recon
