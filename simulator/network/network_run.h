#pragma once
// Plays a scenario's rider day against in-process validators (each with its own journal file,
// virtual reader and virtual gate, all sharing one accelerated clock) that sync over real TCP to a
// back office, then checks that every tap made is stored there exactly once.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "simulator/network/scenario.h"

namespace faregate::simulator {

struct RunOptions {
  std::filesystem::path work_dir;  // validators' journals go to work_dir/validators/<device>/
  std::string backoffice_host = "127.0.0.1";
  std::uint16_t backoffice_port = 7450;
  // Back-office store file, when local: lets the report count stored taps and conflicts directly.
  std::filesystem::path backoffice_store;
  // Called with a one-line progress message every 10% of the day.
  std::function<void(const std::string&)> progress;
};

struct DeviceTally {
  std::string device_id;
  std::uint64_t journaled = 0;       // last seq the validator issued
  std::uint64_t stored_through = 0;  // the back office's contiguous watermark for it
  std::uint64_t accepted = 0;
  std::uint64_t gate_opened = 0;
};

struct RunReport {
  std::string scenario;
  std::size_t validators = 0;
  std::size_t riders = 0;
  std::uint64_t trips = 0;
  std::uint64_t forgotten_tap_outs = 0;
  std::uint64_t taps_presented = 0;
  std::uint64_t taps_journaled = 0;
  std::uint64_t accepted = 0;
  std::uint64_t denied = 0;
  std::map<std::string, std::uint64_t> deny_reasons;
  // Taps whose decision differs from what the card kind should get.
  std::uint64_t unexpected_decisions = 0;
  // Validators whose gate opened a different number of times than they accepted taps.
  std::uint64_t gate_mismatches = 0;
  // Per tap, summed: processing measured on this machine, radio air time modelled (106 kbit/s).
  std::uint64_t processing_us_total = 0;
  std::uint64_t radio_model_us_total = 0;
  std::uint64_t sync_sessions = 0;
  std::uint64_t sync_failures = 0;
  std::uint64_t taps_stored = 0;     // in the back office
  std::uint64_t taps_missing = 0;    // journaled but not stored
  std::uint64_t conflicts = 0;
  std::vector<DeviceTally> devices;
  double wall_seconds = 0;

  bool ok() const {
    return taps_missing == 0 && unexpected_decisions == 0 && gate_mismatches == 0 &&
           conflicts == 0 && taps_stored == taps_journaled;
  }
};

Result<RunReport> run_network(const Scenario& scenario, const RunOptions& options);

// The card-token key the simulated operator provisions on every validator of a simulated
// network with this seed (the same seed gives the same tokens in every run).
Bytes simulated_card_token_key(std::uint64_t seed);

// Human-readable summary, several lines.
std::string format_report(const RunReport& report);
// The same as one JSON object.
std::string report_json(const RunReport& report);

}  // namespace faregate::simulator
