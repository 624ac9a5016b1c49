// A proxy between validators and a real faregate-backoffice that drops, delays, truncates and
// duplicates sync frames in both directions (seeded), while in-process validators tap and sync on
// their own threads. Afterwards, with the network healed, every tap the validators made is
// compared with the store (TapLedger). Plain TCP (--insecure-dev): the proxy must see the frames.

#include <catch2/catch.hpp>

#include <iostream>

#include "backoffice/store/tap_store_factory.h"
#include "simulator/network/backoffice_process.h"
#include "simulator/network/simulated_keys.h"
#include "tests/fault/fault_harness.h"
#include "tests/fault/fault_proxy.h"
#include "tests/fault/tap_ledger.h"
#include "tests/support/temp_dir.h"

using namespace faregate;
using faregate::testing::FaultPlan;
using faregate::testing::FaultProxy;
using faregate::testing::FaultValidator;
using faregate::testing::TapLedger;
using faregate::testing::TempDir;

TEST_CASE("frames dropped, delayed, truncated and duplicated by the network lose and duplicate no tap") {
  TempDir dir;
  const std::uint64_t seed = 77;
  const auto data_dir = dir.path() / "backoffice";
  std::filesystem::create_directories(data_dir);
  const std::string store = "sqlite:" + (data_dir / "taps.db").string();
  auto backoffice = simulator::BackofficeProcess::start(FAREGATE_BACKOFFICE_BIN, data_dir, 0,
                                                        {"--insecure-dev", "--store", store});
  REQUIRE(backoffice);

  FaultProxy proxy(backoffice->port(), seed,
                   FaultPlan{.drop = 0.03, .delay = 0.10, .truncate = 0.03, .duplicate = 0.05,
                             .max_delay = std::chrono::milliseconds(40)});

  auto keys = simulator::simulated_key_store(7).value();
  auto fleet = testing::make_fault_fleet(dir.path() / "validators", "proxy-gate", 4, keys,
                                         [&](int) { return testing::proxied_options(proxy.port()); });
  REQUIRE(fleet);

  TapLedger ledger;
  const auto errors = testing::run_tap_traffic(*fleet, ledger, 40, 12, seed * 131);

  // Heal the network, let every validator catch up, then judge.
  proxy.set_enabled(false);
  const bool drained = testing::drain_fleet(*fleet, ledger, 10);
  const auto faults = proxy.counts();
  proxy.stop();
  REQUIRE(backoffice->stop().value() == 0);

  auto opened = store::open_tap_store(store);
  REQUIRE(opened);
  auto counts = ledger.check(**opened);
  REQUIRE(counts);
  std::cout << format_counts("frame faults proxy, sqlite", *counts) << " (frames " << faults.frames
            << ", dropped " << faults.dropped << ", delayed " << faults.delayed << ", truncated "
            << faults.truncated << ", duplicated " << faults.duplicated << ", connections "
            << faults.connections << ", failed syncs " << errors.syncs << ")"
            << std::endl;
  CHECK(errors.taps == 0);
  CHECK(drained);
  // The faults really happened.
  CHECK(faults.dropped > 0);
  CHECK(faults.delayed > 0);
  CHECK(faults.truncated > 0);
  CHECK(faults.duplicated > 0);
  CHECK(errors.syncs > 0);
  CHECK(counts->attempted > 0);
  CHECK(counts->acknowledged == counts->attempted);
  CHECK(counts->stored == counts->attempted);
  CHECK(counts->lost == 0);
  CHECK(counts->duplicated == 0);
  CHECK(counts->unexpected == 0);
  CHECK(counts->conflicts == 0);
}
