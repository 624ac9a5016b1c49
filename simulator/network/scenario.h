#pragma once
// A rider-day scenario: the network (gated stations, bus routes with an onboard validator per
// vehicle), the riders (groups with their cards, rider category, travel pattern), the service
// day, the clock acceleration and how often validators sync. The JSON format is documented in
// docs/scenario_format.md; parse_scenario() checks every field and names the bad one with its
// line and column in the file.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace faregate::simulator {

// A bus route: the vehicles running on it each carry one onboard validator that knows the route.
struct RouteSpec {
  std::string id;
  std::vector<std::string> stops;  // in running order; a stop named like a station is a transfer
  int vehicles = 1;
  int minutes_between_stops = 3;
};

enum class TravelPattern {
  // Home in the morning peak to work, back home in the evening peak, errands in between.
  kHomeWork,
  // Each trip starts where the previous one ended, trips spread evenly over the day.
  kWander,
};

struct RiderGroup {
  std::string name;
  int count = 0;
  // The fare rider category (e.g. "adult", "senior", "student"), carried into the report; the
  // card does not carry it (bank cards know no concessions), the back office's account does.
  std::string category = "adult";
  // Card kind (as listed by `faregate-sim cards`) -> relative weight among the group's riders.
  std::map<std::string, int> card_mix;
  int min_trips = 1;
  int max_trips = 2;
  int forget_tap_out_percent = 0;
  TravelPattern pattern = TravelPattern::kHomeWork;
  // Places (station ids or route stop ids) homes and workplaces are drawn from; empty: any.
  std::vector<std::string> homes;
  std::vector<std::string> works;
};

// How the back office prices the scenario's taps after the run (a fare run; docs/payments.md).
struct FaresSpec {
  std::string feed;                          // "demo": the built-in feed; else a GTFS directory
  std::string acquirer = "simulated";        // the fare run's --acquirer
  std::string service_day_start = "04:30";   // HH:MM, the feed's time zone
};

struct Scenario {
  std::string name;
  std::uint64_t seed = 1;
  // First and last moment riders travel, UTC epoch ms.
  std::int64_t day_start_utc_ms = 0;
  std::int64_t day_end_utc_ms = 0;
  // Departure windows of the home/work pattern, UTC epoch ms (defaults from the service day).
  std::int64_t morning_start_utc_ms = 0;
  std::int64_t morning_end_utc_ms = 0;
  std::int64_t evening_start_utc_ms = 0;
  std::int64_t evening_end_utc_ms = 0;
  std::vector<std::string> stations;
  int entry_validators_per_station = 1;
  int exit_validators_per_station = 1;
  std::vector<RouteSpec> routes;
  std::vector<RiderGroup> groups;
  int min_travel_minutes = 5;
  int max_travel_minutes = 40;
  int sync_every_minutes = 60;
  int batch_taps = 200;
  // Simulated seconds per real second; 0: as fast as the validators go (the clock jumps from
  // tap to tap).
  double clock_acceleration = 0;
  // Without it the run ends with the network report only.
  std::optional<FaresSpec> fares;

  int rider_count() const;
  // Station ids, then route stops that are not stations, each once.
  std::vector<std::string> places() const;
};

// Parses and validates a scenario. Errors name the field and where it is in the text:
// "riders.count: must be 1..1000000, found 0 (line 5, column 14)".
Result<Scenario> parse_scenario(std::string_view json_text);
Result<Scenario> load_scenario_file(const std::string& path);

// The small network the demo runs when no file is given (simulator/scenarios/demo.json, built
// into the binary).
std::string_view embedded_demo_scenario();

// Where the value at `path` ("riders[1].cards.visa", "routes[0].stops[2]", "" for the root)
// starts in `json_text`: 1-based line and column. nullopt if the text has no such value.
// Requires nothing of the text; stops at the first thing that is not JSON.
struct TextPosition {
  int line = 1;
  int column = 1;
};
std::optional<TextPosition> locate_json_path(std::string_view json_text, std::string_view path);

}  // namespace faregate::simulator
