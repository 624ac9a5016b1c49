#include "tests/fault/tap_ledger.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <set>

namespace faregate::testing {

std::string format_counts(const std::string& scenario, const LedgerCounts& c) {
  return scenario + ": attempted / acknowledged / stored / lost / duplicated / unexpected / " +
         "conflicts = " + std::to_string(c.attempted) + " / " + std::to_string(c.acknowledged) +
         " / " + std::to_string(c.stored) + " / " + std::to_string(c.lost) + " / " +
         std::to_string(c.duplicated) + " / " + std::to_string(c.unexpected) + " / " +
         std::to_string(c.conflicts);
}

void TapLedger::record_made(const faregate::v1::TapRecord& record) {
  std::lock_guard lock(mutex_);
  made_[record.device_id()][record.seq()] = record;
}

void TapLedger::record_acknowledged(const std::string& device_id, std::uint64_t through_seq) {
  std::lock_guard lock(mutex_);
  auto& ack = acknowledged_[device_id];
  ack = std::max(ack, through_seq);
}

std::uint64_t TapLedger::attempted() const {
  std::lock_guard lock(mutex_);
  std::uint64_t n = 0;
  for (const auto& [device, taps] : made_) n += taps.size();
  return n;
}

Result<LedgerCounts> TapLedger::check(store::TapStore& store) const {
  std::lock_guard lock(mutex_);
  LedgerCounts counts;
  auto total = store.tap_count();
  if (!total) return std::unexpected(total.error());
  counts.stored = *total;
  auto conflicts = store.conflicts();
  if (!conflicts) return std::unexpected(conflicts.error());
  counts.conflicts = conflicts->size();

  // Every device the store knows, and every device the validators made taps on.
  auto summaries = store.device_summaries();
  if (!summaries) return std::unexpected(summaries.error());
  std::set<std::string> devices;
  for (const auto& s : *summaries) devices.insert(s.device_id);
  for (const auto& [device, taps] : made_) devices.insert(device);

  std::uint64_t distinct_held = 0;
  constexpr std::size_t kPage = 5000;
  for (const auto& device : devices) {
    const auto made_it = made_.find(device);
    const auto ack_it = acknowledged_.find(device);
    const std::uint64_t acked = ack_it == acknowledged_.end() ? 0 : ack_it->second;
    std::set<std::uint64_t> held_ok;  // seqs held with the content the validator made
    std::set<std::uint64_t> seen;
    std::uint64_t from = 1;
    for (;;) {
      auto page = store.taps_of_device(device, from, kPage);
      if (!page) return std::unexpected(page.error());
      for (const auto& held : *page) {
        if (!seen.insert(held.seq()).second) {
          ++counts.duplicated;  // the same (device_id, seq) returned twice
          continue;
        }
        ++distinct_held;
        const faregate::v1::TapRecord* made = nullptr;
        if (made_it != made_.end()) {
          auto t = made_it->second.find(held.seq());
          if (t != made_it->second.end()) made = &t->second;
        }
        if (made != nullptr &&
            google::protobuf::util::MessageDifferencer::Equals(*made, held)) {
          held_ok.insert(held.seq());
        } else {
          ++counts.unexpected;
        }
      }
      // taps_of_device answers a seq range, so a gap ends a page early: stop only past the
      // highest seq the store or the ledger can know of.
      from += kPage;
      std::uint64_t highest = 0;
      for (const auto& s : *summaries) {
        if (s.device_id == device) highest = std::max(highest, s.max_seq);
      }
      if (made_it != made_.end() && !made_it->second.empty()) {
        highest = std::max(highest, made_it->second.rbegin()->first);
      }
      if (from > highest) break;
    }
    if (made_it != made_.end()) {
      for (const auto& [seq, record] : made_it->second) {
        counts.attempted += 1;
        if (seq <= acked) {
          counts.acknowledged += 1;
          if (!held_ok.contains(seq)) ++counts.lost;
        }
      }
    }
  }
  // Rows the store counts beyond one per (device_id, seq) it returns.
  if (counts.stored > distinct_held) counts.duplicated += counts.stored - distinct_held;
  return counts;
}

}  // namespace faregate::testing
