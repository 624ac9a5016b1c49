#pragma once
// TapLedger: the fault suite's total-queue checker, in the manner of Jepsen's. Every tap a
// simulated validator made (device_id, seq, full record) and every watermark the back office
// acknowledged to it is recorded while the faults run; afterwards the ledger is compared with
// what the store holds.
//
//   attempted     taps the validators journaled (each has a device_id and seq)
//   acknowledged  taps at or below the highest watermark a validator was acknowledged
//   stored        rows the store holds (tap_count)
//   lost          acknowledged taps the store does not hold with the same content
//   duplicated    rows beyond one per (device_id, seq) in the store
//   unexpected    stored taps that no validator made (unknown device or seq, or other content)
//   conflicts     entries in the store's conflict table
//
// Thread-safe: validator threads record concurrently.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "backoffice/store/tap_store.h"
#include "common/error.h"
#include "faregate/v1/tap.pb.h"

namespace faregate::testing {

struct LedgerCounts {
  std::uint64_t attempted = 0;
  std::uint64_t acknowledged = 0;
  std::uint64_t stored = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t unexpected = 0;
  std::uint64_t conflicts = 0;
};

// "attempted / acknowledged / stored / lost / duplicated / unexpected / conflicts = a / b / ...",
// prefixed by the scenario name.
std::string format_counts(const std::string& scenario, const LedgerCounts& counts);

class TapLedger {
 public:
  // A tap the validator journaled. Requires: record has device_id and seq set.
  void record_made(const faregate::v1::TapRecord& record);
  // The back office acknowledged taps 1..through_seq of device_id (a lower value is ignored).
  void record_acknowledged(const std::string& device_id, std::uint64_t through_seq);

  // Compares the ledger with the store. Errors: whatever the store reports when read.
  Result<LedgerCounts> check(store::TapStore& store) const;

  std::uint64_t attempted() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::map<std::uint64_t, faregate::v1::TapRecord>> made_;
  std::map<std::string, std::uint64_t> acknowledged_;
};

}  // namespace faregate::testing
