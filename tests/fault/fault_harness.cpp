#include "tests/fault/fault_harness.h"

#include <atomic>
#include <random>
#include <thread>

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

Result<FaultFleet> make_fault_fleet(const std::filesystem::path& dir, const std::string& prefix,
                                    int count, const hal::KeyStore& keys,
                                    const std::function<FaultValidatorOptions(int)>& options) {
  FaultFleet fleet;
  for (int i = 0; i < count; ++i) {
    auto v = FaultValidator::create(dir, prefix + "-" + std::to_string(i),
                                    1'000'000ull * static_cast<std::uint64_t>(i + 1), keys,
                                    options(i));
    if (!v) return std::unexpected(v.error());
    fleet.push_back(std::move(*v));
  }
  return fleet;
}

FaultValidatorOptions proxied_options(std::uint16_t port) {
  FaultValidatorOptions options;
  options.port = port;
  options.batch_taps = 5;
  options.io_timeout = std::chrono::milliseconds(400);
  return options;
}

TrafficErrors run_tap_traffic(FaultFleet& fleet, TapLedger& ledger, int rounds, int max_taps,
                              std::uint64_t seed_base) {
  std::atomic<std::uint64_t> tap_errors{0};
  std::atomic<std::uint64_t> sync_failures{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    threads.emplace_back([&, i] {
      std::mt19937_64 rng(seed_base + i);
      auto& v = *fleet[i];
      for (int round = 0; round < rounds; ++round) {
        const int taps = std::uniform_int_distribution<int>(1, max_taps)(rng);
        for (int t = 0; t < taps; ++t) {
          if (!v.tap(ledger)) ++tap_errors;
        }
        if (!v.sync(ledger)) ++sync_failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  return {tap_errors.load(), sync_failures.load()};
}

bool drain_fleet(FaultFleet& fleet, TapLedger& ledger, int attempts) {
  bool drained = true;
  for (auto& v : fleet) drained = v->drain(ledger, attempts) && drained;
  return drained;
}

}  // namespace faregate::testing
