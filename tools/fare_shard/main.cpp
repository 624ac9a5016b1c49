// faregate-fare-shard: one worker of a fare run split by card token over a PostgreSQL tap store
// (docs/fare_run_sharding.md). Start as many as wanted, on any machines, with the same run id
// and plan: each claims shards until none is left; re-running is idempotent.
//
//   faregate-fare-shard --store postgresql://... --gtfs feed/ --run-id R --from D --to D
//                       [--shards N] [--history-days N] [--worker-id W] [--status] [--json]
//
// Exit codes: 0 done (or --status printed), 1 the store, the feed or the run failed, 2 bad
// command line.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "backoffice/farerun/sharded_fare_run.h"
#include "backoffice/fares/gtfs_fares_loader.h"
#include "backoffice/fares/local_time.h"
#include "backoffice/store/tap_store_factory.h"

namespace {

using namespace faregate;

struct Options {
  std::string store, gtfs, run_id, from, to, worker_id, service_day_start = "04:30", time_zone;
  std::uint32_t shards = 64;
  std::int32_t history_days = 0;
  bool status_only = false;
  bool json = false;
};

std::optional<std::int32_t> parse_day(std::string text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  text.erase(7, 1);
  text.erase(4, 1);
  return fares::parse_gtfs_date(text);
}

int fail(const std::string& message) {
  std::cerr << "faregate-fare-shard: " << message << "\n";
  return 1;
}

int run(Options o) {
  const auto first = parse_day(o.from);
  const auto last = parse_day(o.to);
  if (!first || !last) {
    std::cerr << "faregate-fare-shard: --from and --to are dates YYYY-MM-DD\n";
    return 2;
  }
  const auto start = fares::parse_hh_mm(o.service_day_start);
  if (!start) {
    std::cerr << "faregate-fare-shard: --service-day-start '" << o.service_day_start
              << "' is not HH:MM\n";
    return 2;
  }
  const std::string& uri = o.store;
  if (!uri.starts_with("postgresql://") && !uri.starts_with("postgres://")) {
    std::cerr << "faregate-fare-shard: --store must be a postgresql:// URI (a sharded run needs "
                 "the PostgreSQL store)\n";
    return 2;
  }
  if (o.worker_id.empty()) {
    char host[256] = {};
    (void)::gethostname(host, sizeof host - 1);
    o.worker_id = std::string(host) + ":" + std::to_string(::getpid());
  }
  fares::LoadOptions load_options;
  load_options.time_zone = o.time_zone;
  auto policy = fares::load_gtfs_fares(fares::FeedSource::directory(o.gtfs), load_options);
  if (!policy) return fail(o.gtfs + ": " + policy.error().message);
  const fares::EntitlementRegistry no_entitlements;
  farerun::ShardedFareRunOptions options;
  options.engine.service_day_start_s = *start;
  auto runner = farerun::ShardedFareRun::open(uri, *policy, no_entitlements, options);
  if (!runner) return fail(store::redact_store_spec(uri) + ": " + runner.error().message);

  const farerun::FareRunPlan plan{o.run_id, *first, *last, o.shards, o.history_days};
  nlohmann::json out;
  if (!o.status_only) {
    if (auto s = (*runner)->create_run(plan); !s) return fail(s.error().message);
    auto report = (*runner)->work(o.run_id, o.worker_id);
    if (!report) return fail(report.error().message);
    std::uint64_t taps = 0, cards = 0, card_days = 0;
    std::int64_t total = 0;
    for (const auto& s : report->shards) {
      taps += s.taps;
      cards += s.cards;
      card_days += s.card_days;
      total += s.total;
    }
    out["worker"] = {{"worker_id", report->worker_id}, {"shards", report->shards.size()},
                     {"taps", taps}, {"cards", cards}, {"card_days", card_days},
                     {"total", total}};
    if (!o.json) {
      std::cout << "worker " << report->worker_id << ": " << report->shards.size()
                << " shards, " << taps << " taps, " << cards << " cards, " << card_days
                << " card-days, total " << fares::format_amount(total, policy->currency) << " "
                << policy->currency.str() << "\n";
    }
  }
  auto progress = (*runner)->progress(o.run_id);
  if (!progress) return fail(progress.error().message);
  out["run"] = {{"run_id", o.run_id},          {"shards", progress->shards},
                {"done", progress->done},      {"cards", progress->cards},
                {"card_days", progress->card_days}, {"total", progress->total},
                {"currency", std::string(policy->currency.str())}};
  if (o.json) {
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "run " << o.run_id << ": " << progress->done << " of " << progress->shards
              << " shards done, " << progress->cards << " cards, " << progress->card_days
              << " card-days, total " << fares::format_amount(progress->total, policy->currency)
              << " " << policy->currency.str() << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "faregate-fare-shard: prices the taps of a PostgreSQL tap store into per-card-day fare\n"
      "results (table fare_results), split across any number of workers by card token.\n"
      "Every worker started with the same --run-id and plan claims shards until none is left;\n"
      "a worker that dies leaves its shard to the others; re-running is idempotent.\n\n"
      "Examples:\n"
      "  faregate-fare-shard --store postgresql://faregate@db/faregate --gtfs feed/ \\\n"
      "      --run-id 2026-03-02 --from 2026-03-02 --to 2026-03-02\n"
      "  faregate-fare-shard --store postgresql://faregate@db/faregate --gtfs feed/ \\\n"
      "      --run-id week-10 --from 2026-03-02 --to 2026-03-08 --shards 128 --history-days 6 --json\n"
      "  faregate-fare-shard --store postgresql://faregate@db/faregate --gtfs feed/ \\\n"
      "      --run-id week-10 --from 2026-03-02 --to 2026-03-08 --shards 128 --history-days 6 --status\n\n"
      "JSON: {worker: {worker_id, shards, taps, cards, card_days, total}, run: {run_id, shards,\n"
      "done, cards, card_days, total, currency}}. Amounts are integers in minor units.\n"};
  Options o;
  cli.add_option("--store", o.store, "PostgreSQL tap store URI (postgresql://...)")->required();
  cli.add_option("--gtfs", o.gtfs, "GTFS feed directory with the Fares v2 files")
      ->required()
      ->check(CLI::ExistingDirectory);
  cli.add_option("--run-id", o.run_id, "Name of the run; workers of one run share it")->required();
  cli.add_option("--from", o.from, "First service day to price, YYYY-MM-DD")->required();
  cli.add_option("--to", o.to, "Last service day to price, YYYY-MM-DD")->required();
  cli.add_option("--shards", o.shards, "Shards the cards are split into (same for every worker)")
      ->check(CLI::Range(1u, 65536u))
      ->capture_default_str();
  cli.add_option("--history-days", o.history_days,
                 "Earlier service days read for week and rolling caps")
      ->check(CLI::Range(0, 3660))
      ->capture_default_str();
  cli.add_option("--worker-id", o.worker_id, "Name recorded with this worker's results (default HOST:PID)");
  cli.add_option("--service-day-start", o.service_day_start,
                 "Local time (HH:MM) at which service days start")
      ->capture_default_str();
  cli.add_option("--time-zone", o.time_zone, "IANA time zone overriding agency_timezone");
  cli.add_flag("--status", o.status_only, "Only print the run's progress");
  cli.add_flag("--json", o.json, "Machine-readable output");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  return run(o);
}
