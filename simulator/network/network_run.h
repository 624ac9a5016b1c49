#pragma once
// Plays a scenario's rider day on a simulated network, then accounts for every tap of every
// rider: made (presented to a validator), journaled (the validator's journal holds a record for
// it, with the rider's card token and the decision the card should get), stored (the back office
// holds that same record) and gate (the virtual gate did exactly what the decision calls for:
// message, light, tone, and opening on accept).
//
// Two ways to run the validators:
//  - in process (default): each validator is the real firmware (journal file, tap pipeline, sync
//    agent) on an in-process reader and virtual gate, all on one simulated clock that jumps
//    from tap to tap; syncs go over real TCP (TLS when the back office has a PKI);
//  - as processes (RunOptions::processes): each validator is a faregate-validator process
//    reading cards through the real libnfc from a virtual PN532 on a pty that the runner
//    drives (place the rider's card, wait for the tap, take it away). The validators keep real
//    time; the scenario's clock acceleration paces the taps. docs/scenario_format.md says more.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "simulator/network/scenario.h"
#include "simulator/network/simulated_keys.h"

namespace faregate::simulator {

struct RunOptions {
  std::filesystem::path work_dir;  // validators' data go to work_dir/validators/<device>/
  std::string backoffice_host = "127.0.0.1";
  std::uint16_t backoffice_port = 7450;
  // Back-office store file, when local: the report then checks every stored record.
  std::filesystem::path backoffice_store;
  // Called with a one-line progress message every 10% of the taps and at least every
  // `progress_every` of wall time on long runs.
  std::function<void(const std::string&)> progress;
  std::chrono::milliseconds progress_every{5000};
  // Run each validator as a faregate-validator process over libnfc and a virtual PN532.
  bool processes = false;
  // The faregate-validator program (processes only); empty: find_validator_binary().
  std::filesystem::path validator_binary;
  // Overrides the scenario's clock acceleration when set (0: as fast as possible).
  std::optional<double> clock_acceleration;
  // Threads that play in-process taps; 0: one per core, at most 4.
  unsigned threads = 0;
};

struct DeviceTally {
  std::string device_id;
  std::uint64_t journaled = 0;       // last seq the validator issued
  std::uint64_t stored_through = 0;  // the back office's contiguous watermark for it
  std::uint64_t accepted = 0;
  std::uint64_t gate_opened = 0;
};

// One rider's day, made against recorded.
struct RiderTally {
  std::uint32_t planned = 0;      // taps the plan gave the rider
  std::uint32_t made = 0;         // taps presented (each until the validator decided)
  std::uint32_t journaled = 0;    // in the validator's journal, with the rider's card token
  std::uint32_t stored = 0;       // in the back office, the same record as journaled
  std::uint32_t as_expected = 0;  // decision and reason the rider's card should get
  std::uint32_t gate_ok = 0;      // gate actions exactly as the decision calls for
  std::uint32_t gate_opened = 0;
  bool accounted() const {
    return made == planned && journaled == made && stored == made && as_expected == made &&
           gate_ok == made;
  }
};

struct RiderLine {
  std::string group;
  std::string category;
  std::string card_kind;
  RiderTally tally;
  // The card token validators derive from the rider's card (raw bytes; empty when no validator
  // can read a PAN from the card). Not a PAN: what a concession registry keys on.
  std::string card_token;
};

struct CategoryTally {
  std::uint64_t riders = 0;
  std::uint64_t riders_accounted = 0;
  std::uint64_t taps = 0;
  std::uint64_t accepted = 0;
  std::uint64_t denied = 0;
};

struct RunReport {
  std::string scenario;
  std::string mode;  // "in-process" or "processes"
  std::size_t validators = 0;
  std::size_t onboard_validators = 0;
  std::size_t riders = 0;
  std::uint64_t trips = 0;
  std::uint64_t rail_legs = 0;
  std::uint64_t bus_legs = 0;
  std::uint64_t forgotten_tap_outs = 0;
  std::uint64_t refused_trips = 0;
  std::uint64_t taps_planned = 0;
  std::uint64_t taps_presented = 0;
  std::uint64_t taps_not_completed = 0;  // presented, but the validator journaled nothing
  std::uint64_t retries = 0;             // extra presentations after a failed read
  // Journaled denies that asked the rider to tap again (card_timeout, ...), each followed by
  // another presentation of the same tap; and how many of them the back office holds.
  std::uint64_t retried_records = 0;
  std::uint64_t retried_records_stored = 0;
  std::uint64_t taps_journaled = 0;
  std::uint64_t accepted = 0;
  std::uint64_t denied = 0;
  std::map<std::string, std::uint64_t> deny_reasons;
  // Taps whose journaled decision or reason differs from what the card kind should get, or
  // whose record carries another card's token.
  std::uint64_t unexpected_decisions = 0;
  // Taps whose gate actions differ from what their decision calls for.
  std::uint64_t gate_mismatches = 0;
  // Journal records no presentation accounts for (a card read twice).
  std::uint64_t unclaimed_records = 0;
  // Per tap, summed: processing measured by the validator, radio air time modelled (106 kbit/s,
  // in-process only).
  std::uint64_t processing_us_total = 0;
  std::uint64_t radio_model_us_total = 0;
  std::uint64_t sync_sessions = 0;
  std::uint64_t sync_failures = 0;
  std::uint64_t taps_stored = 0;     // in the back office, for this run's validators
  std::uint64_t taps_missing = 0;    // journaled but not stored
  std::uint64_t conflicts = 0;
  std::uint64_t riders_accounted = 0;
  std::map<std::string, CategoryTally> categories;
  std::vector<DeviceTally> devices;
  std::vector<RiderLine> rider_lines;  // one per rider, in plan order
  std::vector<std::string> problems;   // the first few, for humans
  double setup_seconds = 0;  // cards, validators, processes
  double play_seconds = 0;   // the taps, from the first to the last decision
  double end_seconds = 0;    // end of day: last syncs (and stopping validator processes)
  double wall_seconds = 0;   // everything, checks included

  bool ok() const {
    return riders_accounted == riders && taps_missing == 0 && unexpected_decisions == 0 &&
           gate_mismatches == 0 && unclaimed_records == 0 && conflicts == 0 &&
           taps_not_completed == 0 && taps_presented == taps_planned &&
           taps_stored == taps_journaled;
  }
};

Result<RunReport> run_network(const Scenario& scenario, const RunOptions& options);

// Human-readable summary, several lines (riders with a problem are listed, up to 20).
std::string format_report(const RunReport& report);
// The same as one JSON object; with `riders`, one entry per rider as well.
std::string report_json(const RunReport& report, bool riders = false);

// Finds the faregate-validator program built beside the running program (build tree layout)
// or on PATH.
Result<std::filesystem::path> find_validator_binary();

}  // namespace faregate::simulator
