#pragma once
// Shared pieces of the fault scenarios: in-process validators (real journal, real pipeline, real
// sync agent) that tap fresh simulated cards and record every tap and every acknowledgement in a
// TapLedger, and the ledger check against a store.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "hal/sim/manual_clock.h"
#include "hal/sim/static_key_store.h"
#include "simulator/network/virtual_validator.h"
#include "tests/fault/tap_ledger.h"

namespace faregate::testing {

struct FaultValidatorOptions {
  std::uint16_t port = 0;
  std::size_t batch_taps = 25;
  std::chrono::milliseconds io_timeout{5000};
  // Mutual TLS from the CA in this directory (simulator::provision_device_tls); empty: plain TCP.
  std::filesystem::path pki_dir;
};

// One validator of a fault scenario, with its own clock (validators run on their own threads).
class FaultValidator {
 public:
  // Journal at dir/DEVICE_ID/journal.db (created).
  static Result<std::unique_ptr<FaultValidator>> create(const std::filesystem::path& dir,
                                                        const std::string& device_id,
                                                        std::uint64_t card_seed0,
                                                        const hal::KeyStore& keys,
                                                        const FaultValidatorOptions& options);

  // Taps a card never seen before; records the journaled tap in the ledger.
  Status tap(TapLedger& ledger);
  // One sync (connect, hello, batches); records the journal's acknowledged watermark in the ledger whether the
  // sync succeeded or not (a sync cut mid-way keeps what was acknowledged before the cut).
  Result<sync::SyncReport> sync(TapLedger& ledger);
  // Syncs until nothing is left unacknowledged; false after `attempts` failed syncs.
  bool drain(TapLedger& ledger, int attempts);

  simulator::VirtualValidator& validator() { return *validator_; }
  const std::string& device_id() const { return validator_->device_id(); }

 private:
  FaultValidator() = default;
  std::unique_ptr<hal::sim::ManualClock> clock_;
  std::unique_ptr<simulator::VirtualValidator> validator_;
  std::uint64_t next_card_seed_ = 0;
};

using FaultFleet = std::vector<std::unique_ptr<FaultValidator>>;

// `count` validators PREFIX-0, PREFIX-1, ... under `dir`, validator i tapping cards from seed
// 1'000'000 * (i + 1) and configured by `options(i)`.
Result<FaultFleet> make_fault_fleet(const std::filesystem::path& dir, const std::string& prefix,
                                    int count, const hal::KeyStore& keys,
                                    const std::function<FaultValidatorOptions(int)>& options);

// The options of a fleet syncing through a frame-fault proxy at `port`: small batches, and a
// short I/O timeout, since a dropped frame stalls its sync until then and the run stays brief.
FaultValidatorOptions proxied_options(std::uint16_t port);

struct TrafficErrors {
  std::uint64_t taps = 0;   // taps that failed
  std::uint64_t syncs = 0;  // syncs that failed (expected under faults)
};
// Every validator on its own thread, `rounds` times: 1 to `max_taps` taps (validator i draws
// from a generator seeded `seed_base + i`), then one sync. Returns once all threads are done.
TrafficErrors run_tap_traffic(FaultFleet& fleet, TapLedger& ledger, int rounds, int max_taps,
                              std::uint64_t seed_base);

// Drains every validator (FaultValidator::drain); true when all of them drained.
bool drain_fleet(FaultFleet& fleet, TapLedger& ledger, int attempts);

}  // namespace faregate::testing
