#pragma once
// Shared pieces of the fault scenarios: in-process validators (real journal, real pipeline, real
// sync agent) that tap fresh simulated cards and record every tap and every acknowledgement in a
// TapLedger, and the ledger check against a store.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

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

}  // namespace faregate::testing
