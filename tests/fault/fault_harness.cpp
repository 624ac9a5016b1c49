#include "tests/fault/fault_harness.h"

#include "simulator/cards/card_catalog.h"
#include "simulator/network/backoffice_process.h"
#include "simulator/network/simulated_keys.h"

namespace faregate::testing {

Result<std::unique_ptr<FaultValidator>> FaultValidator::create(
    const std::filesystem::path& dir, const std::string& device_id, std::uint64_t card_seed0,
    const hal::KeyStore& keys, const FaultValidatorOptions& options) {
  static const auto ca_keys = simulator::simulated_ca_keys();
  if (!ca_keys) return std::unexpected(ca_keys.error());
  tap::TapPipelineConfig pc;
  pc.device_id = device_id;
  pc.stop_id = "fault-stop";
  pc.role = faregate::v1::VALIDATOR_ROLE_ENTRY;
  pc.firmware_version = "fault-suite";
  pc.anti_passback = std::chrono::seconds(0);
  sync::SyncOptions so;
  so.port = options.port;
  so.batch_taps = options.batch_taps;
  so.io_timeout = options.io_timeout;
  so.connect_timeout = std::chrono::milliseconds(2000);
  if (!options.pki_dir.empty()) {
    auto tls = simulator::provision_device_tls(options.pki_dir, device_id);
    if (!tls) return std::unexpected(tls.error());
    so.tls = *tls;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir / device_id, ec);
  std::unique_ptr<FaultValidator> v(new FaultValidator());
  v->clock_ = std::make_unique<hal::sim::ManualClock>();
  v->next_card_seed_ = card_seed0;
  auto created = simulator::VirtualValidator::create(dir / device_id / "journal.db", pc, so,
                                                     *v->clock_, keys, *ca_keys);
  if (!created) return std::unexpected(created.error());
  v->validator_ = std::move(*created);
  return v;
}

Status FaultValidator::tap(TapLedger& ledger) {
  auto card = simulator::make_card("visa", next_card_seed_++);
  if (!card) return std::unexpected(card.error());
  auto outcome = validator_->present(*card);
  if (!outcome) return std::unexpected(outcome.error());
  clock_->advance_ms(1000);
  if (outcome->record.seq() == 0) {
    return make_error(ErrorCode::kInternal, "a tap came back without a journal seq");
  }
  ledger.record_made(outcome->record);
  return {};
}

Result<sync::SyncReport> FaultValidator::sync(TapLedger& ledger) {
  auto report = validator_->sync();
  if (auto stats = validator_->journal().stats()) {
    ledger.record_acknowledged(device_id(), stats->synced_through);
  }
  return report;
}

bool FaultValidator::drain(TapLedger& ledger, int attempts) {
  for (int i = 0; i < attempts; ++i) {
    auto report = sync(ledger);
    auto stats = validator_->journal().stats();
    if (report && stats && stats->unsynced == 0) return true;
  }
  return false;
}

}  // namespace faregate::testing
