// faregate-fares: quotes fares under a GTFS-Fares v2 policy, for people writing fare policies.
//
//   faregate-fares price --gtfs DIR --taps FILE [--service-day-start HH:MM] [...]
//   faregate-fares check --gtfs DIR [--json]
//
// Exit codes: 0 success, 1 the feed or the tap file is invalid (the message names file and
// line), 2 bad command line.

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "backoffice/fares/fare_engine.h"
#include "backoffice/fares/gtfs_fares_loader.h"
#include "backoffice/fares/local_time.h"
#include "tools/fares/quote_json.h"
#include "tools/fares/tap_csv.h"

namespace {

using namespace faregate::fares;

struct PriceOptions {
  std::string gtfs_dir;
  std::string taps_file;
  std::string entitlements_file;
  std::string service_day_start = "04:30";
  std::string time_zone;
  std::string fare_media;
  unsigned double_tap_seconds = 60;
  unsigned max_journey_minutes = 180;
  bool no_auto_complete = false;
  unsigned threads = 1;
};

faregate::Result<FarePolicy> load(const std::string& dir, const std::string& time_zone) {
  LoadOptions options;
  options.time_zone = time_zone;
  return load_gtfs_fares(FeedSource::directory(dir), options);
}

int price(const PriceOptions& o) {
  auto policy = load(o.gtfs_dir, o.time_zone);
  if (!policy) {
    std::cerr << "faregate-fares: " << o.gtfs_dir << ": " << policy.error().message << "\n";
    return 1;
  }
  const auto start = parse_hh_mm(o.service_day_start);
  if (!start) {
    std::cerr << "faregate-fares: --service-day-start '" << o.service_day_start << "' is not HH:MM\n";
    return 2;
  }
  auto text = faregate::fares::cli::read_file(o.taps_file);
  if (!text) {
    std::cerr << "faregate-fares: " << text.error().message << "\n";
    return 1;
  }
  auto taps = faregate::fares::cli::parse_tap_csv(*text, o.taps_file, *policy);
  if (!taps) {
    std::cerr << "faregate-fares: " << taps.error().message << "\n";
    return 1;
  }
  EntitlementRegistry registry;
  if (!o.entitlements_file.empty()) {
    auto e = faregate::fares::cli::read_file(o.entitlements_file);
    if (!e) {
      std::cerr << "faregate-fares: " << e.error().message << "\n";
      return 1;
    }
    if (auto s = faregate::fares::cli::parse_entitlements_csv(*e, o.entitlements_file, *policy, registry); !s) {
      std::cerr << "faregate-fares: " << s.error().message << "\n";
      return 1;
    }
  }
  EngineOptions engine_options;
  engine_options.service_day_start_s = *start;
  engine_options.double_tap_window_ms = static_cast<std::int64_t>(o.double_tap_seconds) * 1000;
  engine_options.max_journey_ms = static_cast<std::int64_t>(o.max_journey_minutes) * 60'000;
  engine_options.auto_complete = !o.no_auto_complete;
  engine_options.threads = o.threads;
  if (!o.fare_media.empty()) {
    engine_options.default_fare_media = policy->fare_media_index(o.fare_media);
    if (engine_options.default_fare_media == kUnknown) {
      std::cerr << "faregate-fares: --fare-media '" << o.fare_media << "' is not in fare_media.txt\n";
      return 1;
    }
  }
  FareEngine engine(*policy, engine_options);
  const auto result = engine.price(taps->taps, registry);
  faregate::fares::cli::write_quote_lines(result, *policy, *taps, std::cout);
  return 0;
}

int check(const std::string& dir, const std::string& time_zone, bool json) {
  auto policy = load(dir, time_zone);
  if (!policy) {
    std::cerr << "faregate-fares: " << dir << ": " << policy.error().message << "\n";
    return 1;
  }
  nlohmann::ordered_json o;
  o["time_zone"] = policy->time_zones[0].name();
  o["currency"] = std::string(policy->currency.empty() ? "" : policy->currency.str());
  o["stops"] = policy->stops.size();
  o["routes"] = policy->routes.size();
  o["networks"] = policy->network_ids.size();
  o["areas"] = policy->area_ids.size();
  o["rider_categories"] = policy->rider_categories.size();
  o["fare_media"] = policy->fare_media.size();
  o["fare_products"] = policy->fare_products_ids.size();
  o["fare_leg_rules"] = policy->leg_rules.size();
  o["rule_priority"] = policy->has_rule_priority;
  o["fare_leg_join_rules"] = policy->join_rules.size();
  o["fare_transfer_rules"] = policy->transfer_rules.size();
  o["timeframes"] = policy->timeframes.size();
  o["fare_caps"] = policy->caps.size();
  if (json) {
    std::cout << o.dump() << "\n";
  } else {
    std::cout << "policy OK\n";
    for (const auto& [k, v] : o.items()) std::cout << "  " << k << ": " << v.dump() << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "faregate-fares: fare quotes under a GTFS-Fares v2 policy (with Faregate's capping extension).\n\n"
      "Examples:\n"
      "  faregate-fares check --gtfs feed/\n"
      "  faregate-fares price --gtfs feed/ --taps taps.csv\n"
      "  faregate-fares price --gtfs feed/ --taps taps.csv --service-day-start 03:00 \\\n"
      "      --entitlements concessions.csv\n\n"
      "taps.csv (header required; route_id and rider_category may be empty):\n"
      "  card,time,stop_id,role,route_id,rider_category\n"
      "  alice,2026-03-02T08:15:00-05:00,central,entry,,\n"
      "  alice,2026-03-02T08:41:00-05:00,airport,exit,,\n"
      "  bob,2026-03-02T09:00:00-05:00,stop-12,onboard,bus-7,senior\n\n"
      "Output: one JSON object per line per card and service day:\n"
      "  {\"card\":...,\"service_day\":...,\"legs\":[{\"from_stop\":...,\"to_stop\":...,\"fare_product\":...,\n"
      "   \"amount\":...}],\"transfer_discount\":...,\"cap_discount\":...,\"total\":...,\"currency\":...}\n"
      "Amounts are integers in minor units; total = sum(amount) - transfer_discount - cap_discount.\n"
      "See docs/fare_engine.md and docs/fare_capping.md.\n"};
  cli.require_subcommand(1);

  PriceOptions po;
  auto* price_cmd = cli.add_subcommand("price", "Price a tap file: one JSON line per card and service day");
  price_cmd->add_option("--gtfs", po.gtfs_dir, "GTFS feed directory with the Fares v2 files")->required()->check(CLI::ExistingDirectory);
  price_cmd->add_option("--taps", po.taps_file, "Tap CSV file")->required()->check(CLI::ExistingFile);
  price_cmd->add_option("--service-day-start", po.service_day_start, "Local time (HH:MM) at which service days start")
      ->capture_default_str();
  price_cmd->add_option("--entitlements", po.entitlements_file,
                        "CSV card,rider_category[,valid_from,valid_until]: concessions by card")
      ->check(CLI::ExistingFile);
  price_cmd->add_option("--time-zone", po.time_zone, "IANA time zone overriding agency_timezone");
  price_cmd->add_option("--fare-media", po.fare_media,
                        "fare_media_id of taps that name none (default: the feed's only cEMV medium)");
  price_cmd->add_option("--double-tap-window", po.double_tap_seconds, "Seconds within which a repeated tap is a double tap")
      ->capture_default_str();
  price_cmd->add_option("--max-journey", po.max_journey_minutes, "Minutes beyond which entry-exit is over time")
      ->capture_default_str();
  price_cmd->add_flag("--no-auto-complete", po.no_auto_complete,
                      "Charge the maximum fare for every missing tap, even when the next tap shows the exit");
  price_cmd->add_option("--threads", po.threads, "Worker threads")->capture_default_str()->check(CLI::Range(1u, 64u));
  bool price_json = true;
  price_cmd->add_flag("--json", price_json, "Accepted for symmetry: price always prints JSON lines");

  std::string check_dir, check_tz;
  bool check_json = false;
  auto* check_cmd = cli.add_subcommand("check", "Load a feed's fare policy and report what it holds, or the first error");
  check_cmd->add_option("--gtfs", check_dir, "GTFS feed directory")->required()->check(CLI::ExistingDirectory);
  check_cmd->add_option("--time-zone", check_tz, "IANA time zone overriding agency_timezone");
  check_cmd->add_flag("--json", check_json, "Print one JSON object");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  if (price_cmd->parsed()) return price(po);
  return check(check_dir, check_tz, check_json);
}
