// faregate-report: reconciles what a tap store holds, to the cent (docs/reconciliation.md).
//
//   faregate-report --store sqlite:DATA/taps.db --gtfs feed/ [--format json|csv] [--section S]
//                   [--service-day-start HH:MM] [--simulate-payments [--decline-percent P]]
//
// Exit codes: 0 the report balances, 4 it was printed but does not balance (see its
// discrepancies), 1 the store or feed could not be read, 2 bad command line.

#include <CLI/CLI.hpp>
#include <iostream>

#include "backoffice/fares/fare_engine.h"
#include "backoffice/fares/gtfs_fares_loader.h"
#include "backoffice/fares/local_time.h"
#include "backoffice/payments/payments_ledger.h"
#include "backoffice/payments/simulated_acquirer.h"
#include "backoffice/recon/reconciliation.h"
#include "backoffice/recon/store_pricing.h"
#include "backoffice/store/tap_store_factory.h"

namespace {

using namespace faregate;

struct Options {
  std::string store, gtfs, format = "json", section = "days", service_day_start = "04:30", time_zone;
  bool simulate_payments = false;
  unsigned decline_percent = 0;
  unsigned threads = 2;
};

int run(const Options& o) {
  fares::LoadOptions load_options;
  load_options.time_zone = o.time_zone;
  auto policy = fares::load_gtfs_fares(fares::FeedSource::directory(o.gtfs), load_options);
  if (!policy) {
    std::cerr << "faregate-report: " << o.gtfs << ": " << policy.error().message << "\n";
    return 1;
  }
  const auto start = fares::parse_hh_mm(o.service_day_start);
  if (!start) {
    std::cerr << "faregate-report: --service-day-start '" << o.service_day_start << "' is not HH:MM\n";
    return 2;
  }
  auto store = store::open_tap_store(o.store);
  if (!store) {
    std::cerr << "faregate-report: " << store::redact_store_spec(o.store) << ": " << store.error().message << "\n";
    return 1;
  }
  const fares::EntitlementRegistry no_entitlements;
  recon::StorePricingOptions pricing_options;
  pricing_options.service_day_start_s = *start;
  pricing_options.threads = o.threads;
  auto priced = recon::price_tap_store(**store, *policy, no_entitlements, pricing_options);
  if (!priced) {
    std::cerr << "faregate-report: " << priced.error().message << "\n";
    return 1;
  }
  const auto& pricing = priced->pricing;

  recon::ReconInput input;
  input.policy = &*policy;
  input.taps = priced->book.get();
  input.devices = priced->devices;
  input.pricing = &pricing;
  // The simulated payments loop (demo and tests): verification, charges, settlement.
  payments::PaymentsLedger ledger(policy->currency, {});
  payments::SimulatedAcquirer acquirer;
  payments::MemoryDenyList deny;
  payments::SettlementReport settlement;
  if (o.simulate_payments && !pricing.days.empty()) {
    std::vector<fares::CardToken> tokens;
    for (const auto& d : pricing.days) {
      if (tokens.empty() || !(tokens.back() == d.card)) tokens.push_back(d.card);
      // A fixed share of cards decline, chosen by token so that runs repeat.
      if (d.card.bytes()[0] % 100 < o.decline_percent) acquirer.decline_always(d.card);
    }
    std::int32_t last_day = pricing.days.front().service_day;
    for (const auto& d : pricing.days) last_day = std::max(last_day, d.service_day);
    const std::int64_t now = (static_cast<std::int64_t>(last_day) + 1) * 86'400'000 + 12 * 3'600'000;
    if (auto v = ledger.verify_new_tokens(tokens, acquirer, deny, now); !v) {
      std::cerr << "faregate-report: " << v.error().message << "\n";
      return 1;
    }
    if (auto rec = ledger.record(pricing); !rec) {
      std::cerr << "faregate-report: " << rec.error().message << "\n";
      return 1;
    }
    ledger.submit_due(acquirer, deny, last_day + 1, now);
    const auto records = acquirer.settle();
    settlement = ledger.match_settlement(records);
    input.ledger = &ledger;
    input.settlement = &settlement;
    input.deny_list = &deny;
  }
  const auto report = recon::reconcile(input);
  if (o.format == "csv") {
    std::cout << recon::to_csv(report, o.section);
  } else {
    std::cout << recon::to_json(report).dump() << "\n";
  }
  return report.balanced ? 0 : 4;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "faregate-report: reconciliation of a tap store under a GTFS-Fares v2 policy, to the cent.\n\n"
      "Examples:\n"
      "  faregate-report --store sqlite:data/taps.db --gtfs feed/\n"
      "  faregate-report --store sqlite:data/taps.db --gtfs feed/ --format csv --section days\n"
      "  faregate-report --store sqlite:data/taps.db --gtfs feed/ --simulate-payments --decline-percent 2\n\n"
      "JSON: {balanced, currency, totals, days, devices, device_days, orphan_taps, charges, discrepancies}.\n"
      "CSV: one table, chosen with --section days|devices|device_days|orphans|charges|discrepancies.\n"
      "Amounts are integers in minor units. Exit code 4: printed, but the numbers do not balance.\n"};
  Options o;
  cli.add_option("--store", o.store, "Tap store: sqlite:PATH or a postgresql:// URI")->required();
  cli.add_option("--gtfs", o.gtfs, "GTFS feed directory with the Fares v2 files")->required()->check(CLI::ExistingDirectory);
  cli.add_option("--format", o.format, "json or csv")->check(CLI::IsMember({"json", "csv"}))->capture_default_str();
  cli.add_option("--section", o.section, "CSV table")
      ->check(CLI::IsMember({"days", "devices", "device_days", "orphans", "charges", "discrepancies"}))
      ->capture_default_str();
  cli.add_option("--service-day-start", o.service_day_start, "Local time (HH:MM) at which service days start")
      ->capture_default_str();
  cli.add_option("--time-zone", o.time_zone, "IANA time zone overriding agency_timezone");
  cli.add_flag("--simulate-payments", o.simulate_payments,
               "Run verification, charges and settlement against the simulated acquirer");
  cli.add_option("--decline-percent", o.decline_percent, "With --simulate-payments: share of cards declined")
      ->check(CLI::Range(0u, 100u))
      ->capture_default_str();
  cli.add_option("--threads", o.threads, "Pricing threads")->check(CLI::Range(1u, 64u))->capture_default_str();
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  return run(o);
}
