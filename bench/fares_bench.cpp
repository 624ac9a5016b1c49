// Fare engine throughput: one synthetic service day of 5 million taps by 1 million cards on a
// metro-and-bus network (zones, a peak timeframe, transfers, daily and weekly caps, some missing
// tap-outs and double taps), priced on 1 and 2 threads. Reports taps per second and the
// process's peak resident memory. The taps are built before timing starts.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include "backoffice/fares/fare_engine.h"
#include "bench/synthetic_day.h"

namespace {

using namespace faregate::fares;

// Built once, before the first timed run, and kept for the process's lifetime.
faregate::bench::SyntheticDay& day() {
  static auto* d = faregate::bench::make_synthetic_day(1'000'000).release();
  return *d;
}

void BM_PriceServiceDay(benchmark::State& state) {
  faregate::bench::SyntheticDay& d = day();
  EngineOptions options;
  options.threads = static_cast<unsigned>(state.range(0));
  FareEngine engine(d.policy, options);
  std::int64_t revenue = 0;
  std::size_t card_days = 0;
  for (auto _ : state) {
    const PricingResult r = engine.price(d.taps, d.registry);
    revenue = 0;
    for (const auto& cd : r.days) revenue += cd.total;
    card_days = r.days.size();
    benchmark::DoNotOptimize(revenue);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["taps"] = static_cast<double>(d.taps.size());
  state.counters["card_days"] = static_cast<double>(card_days);
  state.counters["taps_per_s"] =
      benchmark::Counter(static_cast<double>(d.taps.size()) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  state.counters["peak_rss_MiB"] = static_cast<double>(usage.ru_maxrss) / 1024.0;
  state.counters["revenue"] = static_cast<double>(revenue) / 100.0;
}
BENCHMARK(BM_PriceServiceDay)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
