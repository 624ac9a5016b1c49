// Conflicts appear only where a test forged them. Validators tap and sync through a proxy that
// drops, delays, truncates and duplicates frames (resends of identical taps: duplicates, never
// conflicts); then a forger speaking for one of them re-sends an acknowledged seq with other
// content (another stop, a tap time two days later: another service day), twice. The store must
// keep the original, report exactly that one conflict, and lose and duplicate nothing. Runs on
// SQLite and on PostgreSQL.

#include <catch2/catch.hpp>

#include <iostream>

#include "backoffice/store/tap_store_factory.h"
#include "simulator/network/backoffice_process.h"
#include "simulator/network/simulated_keys.h"
#include "tests/backoffice/sync_test_client.h"
#include "tests/fault/fault_harness.h"
#include "tests/fault/fault_proxy.h"
#include "tests/fault/tap_ledger.h"
#include "tests/support/postgres_test_server.h"
#include "tests/support/temp_dir.h"

using namespace faregate;
using faregate::testing::FaultPlan;
using faregate::testing::FaultProxy;
using faregate::testing::FaultValidator;
using faregate::testing::SyncTestClient;
using faregate::testing::TapLedger;
using faregate::testing::TempDir;

namespace {

void run_forged_conflict(const std::string& scenario, const std::string& store_spec,
                         const std::filesystem::path& dir, std::uint64_t seed) {
  const auto data_dir = dir / "backoffice";
  std::filesystem::create_directories(data_dir);
  auto backoffice = simulator::BackofficeProcess::start(FAREGATE_BACKOFFICE_BIN, data_dir, 0,
                                                        {"--insecure-dev", "--store", store_spec});
  REQUIRE(backoffice);

  FaultProxy proxy(backoffice->port(), seed,
                   FaultPlan{.drop = 0.02, .delay = 0.05, .truncate = 0.02, .duplicate = 0.08,
                             .max_delay = std::chrono::milliseconds(20)});

  auto keys = simulator::simulated_key_store(7).value();
  auto fleet = testing::make_fault_fleet(dir / "validators", "forge-gate", 3, keys, [&](int) {
    return testing::proxied_options(proxy.port());
  });
  REQUIRE(fleet);

  TapLedger ledger;
  const auto errors = testing::run_tap_traffic(*fleet, ledger, 20, 8, seed * 17);
  proxy.set_enabled(false);
  const bool drained = testing::drain_fleet(*fleet, ledger, 10);
  const auto faults = proxy.counts();
  proxy.stop();
  REQUIRE(drained);
  REQUIRE(errors.taps == 0);

  // The forger: speaks for validator 1 straight to the back office and re-sends one of its
  // acknowledged taps with other content.
  const std::string victim = (*fleet)[1]->device_id();
  std::uint64_t victim_last_seq = 0;
  auto held = [&]() {
    auto opened = store::open_tap_store(store_spec);
    REQUIRE(opened);
    auto page = (*opened)->taps_of_device(victim, 1, 100'000);
    REQUIRE(page);
    REQUIRE(page->size() >= 3);
    victim_last_seq = page->back().seq();
    return (*page)[2];
  }();
  v1::TapRecord forged = held;
  forged.set_stop_id(held.stop_id() + "-forged");
  forged.set_tap_time_utc_ms(held.tap_time_utc_ms() + 2 * 86'400'000);
  {
    SyncTestClient forger;
    REQUIRE(forger.connect(backoffice->port()));
    auto hello = forger.say_hello(victim, victim_last_seq);
    REQUIRE(hello);
    // Twice: a forger retrying after a lost ack adds no second conflict row.
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto ack = forger.send_batch({forged});
      REQUIRE(ack);
      CHECK(ack->inserted() == 0);
      CHECK(ack->duplicates() == 0);
      CHECK(ack->conflicts() == 1);
      CHECK(ack->stored_through_seq() >= held.seq());
    }
  }
  REQUIRE(backoffice->stop().value() == 0);

  auto opened = store::open_tap_store(store_spec);
  REQUIRE(opened);
  auto counts = ledger.check(**opened);
  REQUIRE(counts);
  std::cout << format_counts(scenario, *counts) << " (forged 1: " << victim << " seq "
            << held.seq() << "; frames " << faults.frames << ", dropped " << faults.dropped
            << ", truncated " << faults.truncated << ", duplicated " << faults.duplicated << ")"
            << std::endl;
  // Identical resends happened (they must not be conflicts).
  CHECK(faults.duplicated > 0);
  CHECK(counts->attempted > 0);
  CHECK(counts->acknowledged == counts->attempted);
  CHECK(counts->stored == counts->attempted);
  CHECK(counts->lost == 0);
  CHECK(counts->duplicated == 0);
  CHECK(counts->unexpected == 0);  // the original is kept, not the forgery
  CHECK(counts->conflicts == 1);

  // The one conflict is the forged one, with both versions.
  auto conflicts = (*opened)->conflicts();
  REQUIRE(conflicts);
  REQUIRE(conflicts->size() == 1);
  const auto& conflict = conflicts->front();
  CHECK(conflict.device_id == victim);
  CHECK(conflict.seq == held.seq());
  CHECK(conflict.held.SerializeAsString() == held.SerializeAsString());
  CHECK(conflict.received.SerializeAsString() == forged.SerializeAsString());
}

}  // namespace

TEST_CASE("a forged resend under frame faults is the only conflict the SQLite store reports") {
  TempDir dir;
  run_forged_conflict("forged resend, sqlite",
                      "sqlite:" + (dir.path() / "backoffice" / "taps.db").string(), dir.path(),
                      5150);
}

TEST_CASE("a forged resend under frame faults is the only conflict the PostgreSQL store reports",
          "[postgresql]") {
  TempDir dir;
  testing::PgTestSchema schema;
  run_forged_conflict("forged resend, postgresql", schema.uri(), dir.path(), 5151);
}
