// A proxy between validators and a real faregate-backoffice that drops, delays, truncates and
// duplicates sync frames in both directions (seeded), while in-process validators tap and sync on
// their own threads. Afterwards, with the network healed, every tap the validators made is
// compared with the store (TapLedger). Plain TCP (--insecure-dev): the proxy must see the frames.

#include <catch2/catch.hpp>

#include <atomic>
#include <iostream>
#include <random>
#include <thread>

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

  FaultPlan plan;
  plan.drop = 0.03;
  plan.delay = 0.10;
  plan.truncate = 0.03;
  plan.duplicate = 0.05;
  plan.max_delay = std::chrono::milliseconds(40);
  FaultProxy proxy(backoffice->port(), seed, plan);

  auto keys = simulator::simulated_key_store(7).value();
  constexpr int kValidators = 4;
  constexpr int kRounds = 40;
  std::vector<std::unique_ptr<FaultValidator>> fleet;
  for (int i = 0; i < kValidators; ++i) {
    testing::FaultValidatorOptions options;
    options.port = proxy.port();
    options.batch_taps = 5;
    // A dropped frame stalls its sync until this timeout; short, so the run stays brief.
    options.io_timeout = std::chrono::milliseconds(400);
    auto v = FaultValidator::create(dir.path() / "validators", "proxy-gate-" + std::to_string(i),
                                    1'000'000ull * static_cast<std::uint64_t>(i + 1), keys,
                                    options);
    REQUIRE(v);
    fleet.push_back(std::move(*v));
  }

  TapLedger ledger;
  std::atomic<std::uint64_t> tap_errors{0};
  std::atomic<std::uint64_t> sync_failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kValidators; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937_64 rng(seed * 131 + static_cast<std::uint64_t>(i));
      auto& v = *fleet[static_cast<std::size_t>(i)];
      for (int round = 0; round < kRounds; ++round) {
        const int taps = std::uniform_int_distribution<int>(1, 12)(rng);
        for (int t = 0; t < taps; ++t) {
          if (!v.tap(ledger)) ++tap_errors;
        }
        if (!v.sync(ledger)) ++sync_failures;
      }
    });
  }
  for (auto& t : threads) t.join();

  // Heal the network, let every validator catch up, then judge.
  proxy.set_enabled(false);
  bool drained = true;
  for (auto& v : fleet) drained = v->drain(ledger, 10) && drained;
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
            << faults.connections << ", failed syncs " << sync_failures.load() << ")"
            << std::endl;
  CHECK(tap_errors == 0);
  CHECK(drained);
  // The faults really happened.
  CHECK(faults.dropped > 0);
  CHECK(faults.delayed > 0);
  CHECK(faults.truncated > 0);
  CHECK(faults.duplicated > 0);
  CHECK(sync_failures > 0);
  CHECK(counts->attempted > 0);
  CHECK(counts->acknowledged == counts->attempted);
  CHECK(counts->stored == counts->attempted);
  CHECK(counts->lost == 0);
  CHECK(counts->duplicated == 0);
  CHECK(counts->unexpected == 0);
  CHECK(counts->conflicts == 0);
}
