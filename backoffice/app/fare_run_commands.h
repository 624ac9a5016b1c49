#pragma once
// The operator's payments commands (docs/payments.md):
//   faregate-backoffice --data-dir D fare-run --gtfs DIR [--store SPEC] [--service-day-start HH:MM]
//       [--acquirer simulated[:RULES]] [--sealing-key PEM] [--travel-period-days N]
//       [--spend-limit MINOR] [--resubmission-interval-s S] [--entitlements CSV] [--now ISO8601]
//       [--json]
//   faregate-backoffice --data-dir D payments pay-debt --token HEX [--json]
// Both are safe while the daemon runs (the tap store is only read; the ledger and the deny list
// are SQLite WAL files changed in one transaction each).
//
// The daemon schedules the same fare run itself with --fare-run-interval-s N and the same
// options (FareRunSchedule below), so that declines reach the deny list, and approvals of
// resubmitted debt take tokens off it, without an operator.

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "backoffice/billing/fare_run.h"
#include "backoffice/fares/entitlement_registry.h"
#include "backoffice/fares/fare_policy.h"
#include "backoffice/payments/simulated_acquirer.h"
#include "common/error.h"

namespace faregate::backoffice_app {

struct FareRunCommands {
  CLI::App* fare_run = nullptr;
  CLI::App* payments = nullptr;
  CLI::App* pay_debt = nullptr;
  std::string gtfs;
  std::string store;
  std::string service_day_start = "04:30";
  std::string time_zone;
  std::string acquirer = "simulated";
  std::string sealing_key;
  std::int32_t travel_period_days = 1;
  std::int64_t spend_limit = 0;
  std::int64_t resubmission_interval_s = 86'400;
  std::string entitlements;
  int fare_run_interval_s = 0;  // the daemon's schedule; 0: off
  std::string now;
  std::string token;
  unsigned threads = 2;
  bool json = false;

  bool parsed() const;
};

void add_fare_run_commands(CLI::App& app, FareRunCommands& commands);
// The daemon's options: --fare-run-interval-s and the fare-run options it needs (the same
// names, help and checks as the fare-run command's; the daemon's own --store is the store).
void add_fare_run_schedule_options(CLI::App& app, FareRunCommands& commands);

// Everything one fare run needs, from the parsed options: the feed loaded, the acquirer rules
// and the entitlements file read. Errors: a bad feed, time, rule or entitlements file.
struct PreparedFareRun {
  fares::FarePolicy policy;
  fares::EntitlementRegistry entitlements;
  billing::FareRunOptions options;  // options.entitlements left null (points into this object)
};
Result<std::unique_ptr<PreparedFareRun>> prepare_fare_run(const FareRunCommands& commands,
                                                          const std::filesystem::path& data_dir,
                                                          const std::string& store_spec);

// The daemon's scheduled fare runs: one every `interval` on a thread of its own, the first one
// interval after start. Each run reads the feed and entitlements file again (a new feed takes
// effect at the next run) and asks one simulated acquirer kept for the schedule's whole life (so
// decline-token=HEX:N counts attempts across runs). A failed run is logged and the next one is
// tried at the next tick; ingest is never affected. Stops (waiting for a run under way) when
// destroyed.
class FareRunSchedule {
 public:
  // Requires: commands.fare_run_interval_s > 0. Errors: the options do not prepare (checked once
  // at start, so that a daemon with a bad feed does not start).
  static Result<std::unique_ptr<FareRunSchedule>> start(const FareRunCommands& commands,
                                                        const std::filesystem::path& data_dir,
                                                        const std::string& store_spec);
  ~FareRunSchedule();
  FareRunSchedule(const FareRunSchedule&) = delete;
  FareRunSchedule& operator=(const FareRunSchedule&) = delete;

 private:
  FareRunSchedule(const FareRunCommands& commands, std::filesystem::path data_dir, std::string store_spec);
  void loop(std::stop_token stop);
  void run_once();

  const FareRunCommands commands_;
  const std::filesystem::path data_dir_;
  const std::string store_spec_;
  payments::SimulatedAcquirer acquirer_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: stopped and joined first
};

// Runs the parsed subcommand against DATA_DIR. Returns the exit code: 0 done (a fare run whose
// reconciliation balances), 4 a fare run done whose reconciliation does not balance, 1 bad input
// or a store error (on stderr).
int run_fare_run_command(const FareRunCommands& commands, const std::filesystem::path& data_dir);

}  // namespace faregate::backoffice_app
