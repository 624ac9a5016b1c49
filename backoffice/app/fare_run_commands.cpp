#include "backoffice/app/fare_run_commands.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "backoffice/billing/fare_run.h"
#include "backoffice/fares/gtfs_fares_loader.h"
#include "backoffice/fares/local_time.h"

namespace faregate::backoffice_app {

bool FareRunCommands::parsed() const { return fare_run->parsed() || payments->parsed(); }

namespace {

// The options a fare run needs, on the fare-run command or (command false) on the daemon.
void add_run_options(CLI::App* app, FareRunCommands& c, bool command) {
  auto* gtfs = app->add_option("--gtfs", c.gtfs, "GTFS feed directory with the Fares v2 files")->check(CLI::ExistingDirectory);
  if (command) gtfs->required();
  app->add_option("--service-day-start", c.service_day_start, "Local time (HH:MM) at which service days start")
      ->capture_default_str();
  app->add_option("--time-zone", c.time_zone, "IANA time zone overriding agency_timezone");
  app->add_option("--acquirer", c.acquirer,
                  "simulated[:RULES], RULES a comma-separated list of decline-iin=SIX_DIGITS (cards of\n"
                  "that issuer are declined online; needs the sealing key) and decline-token=HEX[:N] (every\n"
                  "request for that token declined, or only its first N)")
      ->capture_default_str();
  app->add_option("--sealing-key", c.sealing_key,
                  "The back office's sealing private key (PEM), to identify cards for decline-iin\n"
                  "rules (default: DATA_DIR/sealing_private.pem)");
  app->add_option("--travel-period-days", c.travel_period_days,
                  "Service days aggregated into one charge per card (schemes allow up to 14)")
      ->check(CLI::Range(1, 14))
      ->capture_default_str();
  app->add_option("--spend-limit", c.spend_limit, "An aggregate reaching this amount (minor units) is charged at once; 0: none")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000'000}))
      ->capture_default_str();
  app->add_option("--resubmission-interval-s", c.resubmission_interval_s,
                  "A declined charge is resubmitted after this many seconds (the schemes' rules allow\n"
                  "six resubmissions within 14 days)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{14 * 86'400}))
      ->capture_default_str();
  app->add_option("--entitlements", c.entitlements,
                  "Concessions: CSV card_token,rider_category[,valid_from,valid_until] (docs/fare_engine.md),\n"
                  "applied to every tap of those cards")
      ->check(CLI::ExistingFile);
  app->add_option(command ? "--threads" : "--fare-run-threads", c.threads, "Pricing threads")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
}

}  // namespace

void add_fare_run_commands(CLI::App& app, FareRunCommands& c) {
  c.fare_run = app.add_subcommand(
      "fare-run",
      "price every tap in the store, verify new cards, charge what is due through the acquirer, "
      "deny declined cards on validators, reconcile (one step of the persisted payments ledger)");
  // --data-dir (and --log-level) may come after the subcommand too.
  c.fare_run->fallthrough();
  c.fare_run->add_option("--store", c.store, "Tap store: sqlite:PATH or a postgresql:// URI (default: sqlite:DATA_DIR/taps.db)");
  add_run_options(c.fare_run, c, true);
  c.fare_run->add_option("--now", c.now, "The run's time, ISO 8601 with offset (default: the system clock)");
  c.fare_run->add_flag("--json", c.json, "one JSON object");
  c.fare_run->footer(R"(Examples:
  faregate-backoffice --data-dir /var/lib/faregate fare-run --gtfs /etc/faregate/gtfs
      price every stored tap, verify new cards, charge yesterday's card-days (approves all)
  faregate-backoffice --data-dir ./bo fare-run --gtfs feed/ --acquirer simulated:decline-iin=476199 --json
      the simulator's insufficient_funds cards are declined and denied on validators
  faregate-backoffice --data-dir ./bo fare-run --gtfs feed/ --travel-period-days 7 --spend-limit 5000 \
      --now 2026-03-09T12:00:00+01:00

Output: a summary (taps, legs, revenue, caps applied, verifications, approvals, declines,
deny-list version and size, reconciliation); --json gives one object. Running it again changes
nothing; each run is one transaction on DATA_DIR/payments.db (docs/payments.md).
Exit codes: 0 done and balanced; 4 done, but the reconciliation lists discrepancies; 1 bad
input or a store error (nothing committed).)");

  c.payments = app.add_subcommand("payments", "act on the payments ledger (DATA_DIR/payments.db)");
  c.payments->require_subcommand(1);
  c.pay_debt = c.payments->add_subcommand(
      "pay-debt", "the rider paid their debt another way: close it and lift the card from the deny list");
  c.payments->fallthrough();
  c.pay_debt->fallthrough();
  c.pay_debt->add_option("--token", c.token, "card token, 64 hex digits")->required();
  c.pay_debt->add_flag("--json", c.json, "one JSON object");
  c.pay_debt->footer(R"(Example:
  faregate-backoffice --data-dir ./bo payments pay-debt --token 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      the token's unpaid charges become paid_by_rider; it leaves the deny list (new version)
Exit codes: 0 done; 1 bad token, empty ledger or a store error.)");
}

namespace {

int fail(const std::string& message) {
  std::cerr << "faregate-backoffice: " << message << "\n";
  return 1;
}

int run_pay_debt(const FareRunCommands& c, const std::filesystem::path& data_dir) {
  auto token = fares::CardToken::from_hex(c.token);
  if (!token || token->size() != fares::CardToken::kMaxSize) {
    return fail("'" + c.token + "' is not a card token (64 hex digits)");
  }
  auto paid = billing::pay_debt(data_dir, *token);
  if (!paid) return fail(paid.error().describe());
  if (c.json) {
    nlohmann::ordered_json out{{"token", token->hex()},         {"paid", paid->paid},
                               {"currency", paid->currency},     {"charges_closed", paid->charges},
                               {"lifted", paid->lifted},         {"deny_list_version", paid->deny_list_version}};
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "closed " << paid->charges << " unpaid charges (" << paid->paid << " minor units " << paid->currency
              << "); " << (paid->lifted ? "lifted from" : "was not on") << " the deny list, now at version "
              << paid->deny_list_version << "\n";
  }
  return 0;
}

}  // namespace

void add_fare_run_schedule_options(CLI::App& app, FareRunCommands& c) {
  app.add_option("--fare-run-interval-s", c.fare_run_interval_s,
                 "Run the fare run (as `fare-run` does, with the options below) every this many seconds\n"
                 "while the daemon runs; 0: never (run `fare-run` from a timer instead). 600 to 3600\n"
                 "in production: an approved resubmission lifts a card within one interval")
      ->check(CLI::Range(0, 86'400))
      ->capture_default_str();
  add_run_options(&app, c, false);
}

Result<std::unique_ptr<PreparedFareRun>> prepare_fare_run(const FareRunCommands& c,
                                                          const std::filesystem::path& data_dir,
                                                          const std::string& store_spec) {
  if (c.gtfs.empty()) return make_error(ErrorCode::kInvalidArgument, "--gtfs is required for fare runs");
  fares::LoadOptions load_options;
  load_options.time_zone = c.time_zone;
  auto policy = fares::load_gtfs_fares(fares::FeedSource::directory(c.gtfs), load_options);
  if (!policy) return make_error(policy.error().code, c.gtfs + ": " + policy.error().message);
  const auto start = fares::parse_hh_mm(c.service_day_start);
  if (!start) return make_error(ErrorCode::kInvalidArgument, "--service-day-start '" + c.service_day_start + "' is not HH:MM");
  auto rules = billing::parse_acquirer_spec(c.acquirer);
  if (!rules) return with_context(rules.error(), "--acquirer");

  auto prepared = std::make_unique<PreparedFareRun>(PreparedFareRun{std::move(*policy), {}, {}});
  if (!c.entitlements.empty()) {
    std::ifstream in(c.entitlements, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return make_error(ErrorCode::kNotFound, "cannot read " + c.entitlements);
    if (auto loaded = fares::load_entitlements_csv(text.str(), c.entitlements, prepared->policy, prepared->entitlements);
        !loaded) {
      return std::unexpected(loaded.error());
    }
  }
  billing::FareRunOptions& o = prepared->options;
  o.data_dir = data_dir;
  o.store_spec = store_spec;
  o.service_day_start_s = *start;
  o.payments.travel_period_days = c.travel_period_days;
  o.payments.spend_limit = c.spend_limit;
  o.payments.resubmission_interval_ms = c.resubmission_interval_s * 1000;
  o.acquirer = std::move(*rules);
  o.sealing_key = c.sealing_key;
  o.threads = c.threads;
  return prepared;
}

int run_fare_run_command(const FareRunCommands& c, const std::filesystem::path& data_dir) {
  if (c.pay_debt->parsed()) return run_pay_debt(c, data_dir);

  auto prepared = prepare_fare_run(c, data_dir, c.store);
  if (!prepared) return fail(prepared.error().message);
  billing::FareRunOptions& o = (*prepared)->options;
  o.entitlements = &(*prepared)->entitlements;
  if (c.now.empty()) {
    o.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  } else {
    auto now = fares::parse_iso8601_utc_ms(c.now);
    if (!now) return fail("--now: " + now.error().message);
    o.now_ms = *now;
  }
  auto summary = billing::run_fare_run((*prepared)->policy, o);
  if (!summary) return fail("fare run: " + summary.error().describe());
  if (c.json) {
    std::cout << billing::to_json(*summary).dump() << "\n";
  } else {
    std::cout << billing::format_summary(*summary);
  }
  return summary->balanced ? 0 : 4;
}

Result<std::unique_ptr<FareRunSchedule>> FareRunSchedule::start(const FareRunCommands& commands,
                                                                const std::filesystem::path& data_dir,
                                                                const std::string& store_spec) {
  if (commands.fare_run_interval_s <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "a fare run schedule needs --fare-run-interval-s above 0");
  }
  if (auto prepared = prepare_fare_run(commands, data_dir, store_spec); !prepared) {
    return with_context(prepared.error(), "scheduled fare runs");
  }
  std::unique_ptr<FareRunSchedule> schedule(new FareRunSchedule(commands, data_dir, store_spec));
  schedule->thread_ = std::jthread([s = schedule.get()](std::stop_token stop) { s->loop(stop); });
  return schedule;
}

FareRunSchedule::FareRunSchedule(const FareRunCommands& commands, std::filesystem::path data_dir,
                                 std::string store_spec)
    : commands_(commands), data_dir_(std::move(data_dir)), store_spec_(std::move(store_spec)) {
  // The acquirer outlives every run, so its rules are set once, here.
  if (auto rules = billing::parse_acquirer_spec(commands_.acquirer)) billing::configure_acquirer(acquirer_, *rules);
}

FareRunSchedule::~FareRunSchedule() {
  thread_.request_stop();
  wake_.notify_all();
}

void FareRunSchedule::loop(std::stop_token stop) {
  const auto interval = std::chrono::seconds(commands_.fare_run_interval_s);
  spdlog::info("fare runs scheduled every {} s", commands_.fare_run_interval_s);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // Returns early (true) only when a stop is requested.
      if (wake_.wait_for(lock, stop, interval, [] { return false; }) || stop.stop_requested()) return;
    }
    run_once();
  }
}

void FareRunSchedule::run_once() {
  auto prepared = prepare_fare_run(commands_, data_dir_, store_spec_);
  if (!prepared) {
    spdlog::error("scheduled fare run not started: {}", prepared.error().describe());
    return;
  }
  billing::FareRunOptions& o = (*prepared)->options;
  o.entitlements = &(*prepared)->entitlements;
  o.acquirer_instance = &acquirer_;
  o.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  auto summary = billing::run_fare_run((*prepared)->policy, o);
  if (!summary) {
    // Nothing was committed; the next tick tries again. Ingest goes on regardless.
    spdlog::error("scheduled fare run failed: {}", summary.error().describe());
    return;
  }
  spdlog::info("scheduled fare run {}: {} taps, {} card-days, {} approved, {} declined, {} resubmitted; deny list "
               "version {} ({} tokens, +{} -{}); {}",
               summary->ledger_runs, summary->taps_received, summary->card_days, summary->submitted.approved,
               summary->submitted.declined, summary->submitted.resubmitted, summary->deny_list_version,
               summary->deny_list_size, summary->deny_list_added, summary->deny_list_removed,
               summary->balanced ? "balanced" : "DOES NOT BALANCE");
}

}  // namespace faregate::backoffice_app
