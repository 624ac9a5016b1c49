// One tap, end to end on the validator, as the rider waits for it: the transit kernel reading a
// virtual card through the in-process reader (PPSE, GPO, records, GENERATE AC for CDA), ODA
// (RSA recoveries with mbedTLS), the card token (HMAC), sealing the card data (ECIES P-256),
// the decision, and the durable journal append (SQLite commit with fsync) before the gate acts.
//
// Each benchmark taps a rotating set of 64 riders' cards and reports, per tap, the processing
// time measured on this machine (p50, p99, max; the virtual card's own computing time, which a
// real card spends on its side, is taken out and shown apart) and the radio time the same APDU exchange would
// take at 106 kbit/s by the ISO 14443 model (hal/sim/radio_model.h), which a desk has no way to
// measure. The tap budget is the sum: p99 processing + modelled radio must stay under 300 ms.
//
// The journal lives under $FAREGATE_BENCH_DIR, else $TMPDIR: put it on the storage a validator
// uses (on tmpfs an fsync costs nothing).

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <vector>

#include "common/crypto.h"
#include "firmware/journal/journal.h"
#include "firmware/tap/tap_pipeline.h"
#include "hal/sim/manual_clock.h"
#include "hal/sim/sim_gate.h"
#include "hal/sim/sim_nfc_reader.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/network/simulated_keys.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace faregate;

std::filesystem::path bench_parent() {
  const char* root = std::getenv("FAREGATE_BENCH_DIR");
  return root != nullptr && *root != '\0' ? std::filesystem::path(root)
                                          : std::filesystem::temp_directory_path();
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto at = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(at, values.size() - 1)];
}

void tap_kind(benchmark::State& state, const char* kind) {
  faregate::testing::TempDir dir(bench_parent());
  auto keys = simulator::simulated_key_store(1).value();
  const auto ca_keys = simulator::simulated_ca_keys().value();
  auto journal = journal::Journal::open(dir.path() / "journal.db", "bench-gate-1").value();
  hal::sim::SimNfcReader reader;
  reader.set_bit_rate(hal::sim::BitRate::k106);
  hal::sim::SimGate gate;
  hal::sim::ManualClock clock(1'772'431'200'000);  // 2026-03-02T06:00Z
  auto drbg = crypto::Drbg::deterministic(7);
  tap::TapPipelineConfig config;
  config.device_id = "bench-gate-1";
  config.stop_id = "central";
  config.anti_passback = std::chrono::seconds(0);
  tap::TapPipeline pipeline(reader, gate, clock, keys, *journal, ca_keys, drbg, config);

  // Cards are made before timing: personalizing one signs its certificates.
  std::vector<std::shared_ptr<hal::sim::ContactlessCard>> cards;
  for (std::uint64_t seed = 1; seed <= 64; ++seed) {
    cards.push_back(simulator::make_card(kind, seed).value());
  }
  std::vector<double> processing_us;
  std::vector<double> radio_us;
  std::vector<double> card_us;
  std::uint32_t apdus = 0;
  std::size_t next = 0;
  bool accepted = true;
  for (auto _ : state) {
    reader.place(cards[next++ % cards.size()]);
    auto outcome = pipeline.poll(std::chrono::milliseconds(0));
    reader.remove();
    if (!outcome || !outcome->has_value()) {
      state.SkipWithError("tap failed");
      return;
    }
    accepted = accepted && (*outcome)->record.decision() == v1::DECISION_ACCEPT;
    // The virtual card computes in this process; a real card's time is its own, so it is
    // taken out of the validator's processing.
    processing_us.push_back(static_cast<double>(
        ((*outcome)->processing - reader.card_time_this_tap()).count()));
    card_us.push_back(static_cast<double>(reader.card_time_this_tap().count()));
    radio_us.push_back(static_cast<double>(reader.air_time_this_tap().count()));
    apdus = (*outcome)->apdu_count;
    clock.advance_ms(1000);
  }
  if (!accepted) state.SkipWithError("a tap was not accepted");
  const double p99 = percentile(processing_us, 0.99);
  const double radio = percentile(radio_us, 0.5);
  state.counters["apdus"] = apdus;
  state.counters["proc_p50_us"] = percentile(processing_us, 0.5);
  state.counters["proc_p99_us"] = p99;
  state.counters["proc_max_us"] = percentile(processing_us, 1.0);
  state.counters["card_p50_us"] = percentile(card_us, 0.5);
  state.counters["radio106_us"] = radio;
  state.counters["p99+radio_ms"] = (p99 + radio) / 1000.0;
}

void BM_TapVisaFdda(benchmark::State& state) { tap_kind(state, "visa"); }
void BM_TapMastercardCda(benchmark::State& state) { tap_kind(state, "mastercard"); }
void BM_TapSdaOnly(benchmark::State& state) { tap_kind(state, "sda_only"); }

}  // namespace

BENCHMARK(BM_TapVisaFdda)->Iterations(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TapMastercardCda)->Iterations(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TapSdaOnly)->Iterations(1000)->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // one log line per tap would be measured too
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
