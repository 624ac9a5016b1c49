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
    if (!last_.device_known || r.device_id() != last_.device_id) {
      last_.device = device_index(r.device_id());
      last_.device_id = r.device_id();
      last_.device_known = true;
      last_.count = nullptr;
    }
    const std::uint32_t device = last_.device;
    const std::int32_t day = clock_.service_day(r.tap_time_utc_ms(), service_day_start_s_);
    if (last_.count == nullptr || day != last_.day) {
      last_.count = &counts_[{device, day}];
      last_.day = day;
    }
    DeviceDayCount& count = *last_.count;
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
    if (!last_.stop_known || r.stop_id() != last_.stop_id) {
      last_.stop = policy_.stop_index(r.stop_id());
      if (last_.stop == fares::kNone) last_.stop = fares::kUnknown;
      last_.stop_id = r.stop_id();
      last_.stop_known = true;
    }
    tap.stop = last_.stop;
    if (!last_.route_known || r.route_id() != last_.route_id) {
      last_.route = policy_.route_index(r.route_id());
      last_.route_id = r.route_id();
      last_.route_known = true;
    }
    tap.route = last_.route;
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
