#pragma once
// A rider-day scenario: the network (stations and their validators), the riders and how they
// travel, the service day, and how often validators sync. The JSON format is documented in
// docs/scenario_format.md; parse_scenario() checks every field and names the bad one.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace faregate::simulator {

struct Scenario {
  std::string name;
  std::uint64_t seed = 1;
  // First and last moment riders travel, UTC epoch ms.
  std::int64_t day_start_utc_ms = 0;
  std::int64_t day_end_utc_ms = 0;
  std::vector<std::string> stations;
  int entry_validators_per_station = 1;
  int exit_validators_per_station = 1;
  int riders = 0;
  int min_trips_per_rider = 1;
  int max_trips_per_rider = 2;
  // Card kind (as listed by `faregate-sim cards`) -> relative weight among riders.
  std::map<std::string, int> card_mix;
  int forget_tap_out_percent = 0;
  int min_travel_minutes = 5;
  int max_travel_minutes = 40;
  int sync_every_minutes = 60;
  int batch_taps = 200;
};

// Parses and validates a scenario. Errors name the field: "riders.count: must be 1..1000000".
Result<Scenario> parse_scenario(std::string_view json_text);
Result<Scenario> load_scenario_file(const std::string& path);

// The small network the demo runs when no file is given (simulator/scenarios/demo.json, built
// into the binary).
std::string_view embedded_demo_scenario();

}  // namespace faregate::simulator
