// Fare run from the store to charges: one synthetic service day (bench/synthetic_day.h; 5
// million taps by 1 million cards unless FAREGATE_BENCH_FARE_CARDS says otherwise) is written
// into a real SQLite tap store through TapStore::store_batch (setup, timed apart), then the back
// office's fare run (billing::run_fare_run, what `faregate-backoffice fare-run` does) reads that
// store, prices every card-day, verifies every new card, records the card-days in the persisted
// payments ledger, submits the day's aggregated charges to the simulated acquirer, updates the
// deny list and reconciles.
//
// The store is written by a child process, so that the peak resident memory reported
// (getrusage ru_maxrss of this process) is the fare run's own and not the generator's. Each
// validator (one per stop) numbers its taps 1..n in time order, as real validators do; records
// carry 120 bytes of stand-in sealed card data so that they have the size of real ones (no
// acquirer rule needs them opened). Files go to FAREGATE_BENCH_DIR, else TMPDIR, else /tmp.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "backoffice/billing/fare_run.h"
#include "backoffice/fares/gtfs_fares_loader.h"
#include "backoffice/store/sqlite_tap_store.h"
#include "bench/synthetic_day.h"

namespace {

namespace fs = std::filesystem;
using namespace faregate;

int bench_cards() {
  const char* env = std::getenv("FAREGATE_BENCH_FARE_CARDS");
  const int cards = env != nullptr ? std::atoi(env) : 1'000'000;
  return cards > 0 ? cards : 1'000'000;
}

fs::path bench_dir() {
  for (const char* name : {"FAREGATE_BENCH_DIR", "TMPDIR"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
  }
  return "/tmp";
}

double cpu_seconds(const rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Child process: the day's taps into DIR/taps.db. Returns the process exit code.
int write_store(const fs::path& path, int cards) {
  auto day = bench::make_synthetic_day(cards);
  auto& taps = day->taps;
  // Per validator in time order, so that each numbers its taps 1..n.
  std::sort(taps.begin(), taps.end(), [](const fares::Tap& a, const fares::Tap& b) {
    return a.device != b.device ? a.device < b.device : a.utc_ms != b.utc_ms ? a.utc_ms < b.utc_ms : a.seq < b.seq;
  });
  auto store = store::SqliteTapStore::open(path);
  if (!store) {
    std::cerr << "cannot open " << path << ": " << store.error().describe() << "\n";
    return 1;
  }
  std::mt19937_64 rng(7);
  std::string sealed(120, '\0');
  std::vector<v1::TapRecord> batch;
  constexpr std::size_t kBatch = 1000;
  const auto& policy = day->policy;
  std::size_t i = 0;
  while (i < taps.size()) {
    const std::uint32_t device = taps[i].device;
    const std::string device_id = "val-" + policy.stop_ids.name(device);
    std::uint64_t seq = 0;
    for (; i < taps.size() && taps[i].device == device;) {
      batch.clear();
      for (; i < taps.size() && taps[i].device == device && batch.size() < kBatch; ++i) {
        const fares::Tap& t = taps[i];
        v1::TapRecord& r = batch.emplace_back();
        r.set_device_id(device_id);
        r.set_seq(++seq);
        r.set_tap_time_utc_ms(t.utc_ms);
        r.set_monotonic_ms(static_cast<std::uint64_t>(t.utc_ms - 1'772'000'000'000));
        r.set_stop_id(policy.stop_ids.name(t.stop));
        r.set_role(t.role == fares::TapRole::kEntry  ? v1::VALIDATOR_ROLE_ENTRY
                   : t.role == fares::TapRole::kExit ? v1::VALIDATOR_ROLE_EXIT
                                                     : v1::VALIDATOR_ROLE_ONBOARD);
        if (t.route != fares::kNone) r.set_route_id(policy.route_ids.name(t.route));
        const auto card = t.card.bytes();
        r.set_card_token(reinterpret_cast<const char*>(card.data()), card.size());
        r.set_scheme(v1::CARD_SCHEME_VISA);
        r.set_pan_last4("0000");
        for (auto& c : sealed) c = static_cast<char>(rng());
        r.set_sealed_card_data(sealed);
        r.set_oda(v1::ODA_RESULT_FDDA);
        r.set_decision(v1::DECISION_ACCEPT);
        r.set_atc(static_cast<std::uint32_t>(seq));
        r.set_firmware_version("bench");
      }
      auto stored = (*store)->store_batch(device_id, batch);
      if (!stored) {
        std::cerr << "store_batch: " << stored.error().describe() << "\n";
        return 1;
      }
    }
  }
  return 0;
}

void BM_FareRunFromStore(benchmark::State& state) {
  const int cards = bench_cards();
  std::error_code ec;
  const fs::path dir = bench_dir() / ("faregate-fare-run-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir, ec);
  fs::create_directories(dir);

  // Setup: the store, written by a child process.
  const auto setup_start = std::chrono::steady_clock::now();
  const pid_t child = ::fork();
  if (child == 0) ::_exit(write_store(dir / "taps.db", cards));
  int status = 0;
  ::waitpid(child, &status, 0);
  const double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();
  if (child < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    state.SkipWithError("writing the tap store failed");
    fs::remove_all(dir, ec);
    return;
  }
  rusage child_usage{};
  getrusage(RUSAGE_CHILDREN, &child_usage);

  auto policy = fares::load_gtfs_fares(fares::FeedSource::in_memory(bench::synthetic_feed()));
  if (!policy) {
    state.SkipWithError("the synthetic feed does not load");
    return;
  }
  billing::FareRunOptions options;
  options.data_dir = dir;
  options.threads = static_cast<unsigned>(state.range(0));
  options.now_ms = 1'772'539'200'000;  // 2026-03-03T12:00:00Z: the day before is due

  billing::FareRunSummary summary;
  double wall_s = 0, cpu_s = 0;
  for (auto _ : state) {
    rusage before{}, after{};
    getrusage(RUSAGE_SELF, &before);
    const auto start = std::chrono::steady_clock::now();
    auto run = billing::run_fare_run(*policy, options);
    wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    getrusage(RUSAGE_SELF, &after);
    cpu_s = cpu_seconds(after) - cpu_seconds(before);
    if (!run) {
      state.SkipWithError(run.error().describe().c_str());
      break;
    }
    summary = std::move(*run);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::uintmax_t store_bytes = fs::file_size(dir / "taps.db", ec);
  if (ec) store_bytes = 0;
  fs::remove_all(dir, ec);

  state.counters["setup_s"] = setup_s;
  state.counters["setup_peak_rss_MiB"] = static_cast<double>(child_usage.ru_maxrss) / 1024.0;
  state.counters["store_MiB"] = static_cast<double>(store_bytes) / (1024.0 * 1024.0);
  state.counters["taps"] = static_cast<double>(summary.taps_received);
  state.counters["wall_s"] = wall_s;
  state.counters["cpu_s"] = cpu_s;
  state.counters["taps_per_s"] = wall_s > 0 ? static_cast<double>(summary.taps_received) / wall_s : 0;
  state.counters["peak_rss_MiB"] = static_cast<double>(usage.ru_maxrss) / 1024.0;
  state.counters["card_days"] = static_cast<double>(summary.card_days);
  state.counters["charges"] = static_cast<double>(summary.submitted.approved + summary.submitted.declined);
  state.counters["verifications"] = static_cast<double>(summary.verifications);
  state.counters["revenue"] = static_cast<double>(summary.revenue) / 100.0;
  state.counters["balanced"] = summary.balanced ? 1 : 0;
}
BENCHMARK(BM_FareRunFromStore)->Arg(2)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
