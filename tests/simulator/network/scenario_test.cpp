#include <catch2/catch.hpp>

#include "simulator/network/demo_fares.h"
#include "simulator/network/scenario.h"

using faregate::simulator::locate_json_path;
using faregate::simulator::parse_scenario;
using faregate::simulator::TravelPattern;

namespace {
const char* kMinimal = R"({
  "service_day": {"start_utc": "2026-03-02T04:30:00Z", "end_utc": "2026-03-02T23:30:00Z"},
  "stations": ["a", "b"],
  "riders": {"count": 10, "cards": {"visa": 1}}
})";

// A network with bus routes and two rider groups, one line per field so that positions are easy
// to state.
const char* kFull = R"({
  "name": "full",
  "seed": 5,
  "service_day": {"start_utc": "2026-03-02T04:30:00Z", "end_utc": "2026-03-02T23:30:00Z"},
  "peaks": {"morning": {"from": "07:00", "to": "09:00"},
            "evening": {"from": "16:00", "to": "18:30"}},
  "clock": {"acceleration": 600},
  "stations": ["central", "harbour"],
  "routes": [
    {"id": "12", "stops": ["central", "park", "hospital"], "vehicles": 3},
    {"id": "40", "stops": ["hospital", "suburb"], "minutes_between_stops": 5}
  ],
  "riders": [
    {"name": "commuters", "count": 100, "category": "adult",
     "cards": {"visa": 9, "expired": 1}, "homes": ["suburb", "park"], "works": ["central"]},
    {"name": "seniors", "count": 20, "category": "senior", "pattern": "wander",
     "cards": {"mastercard": 1}, "min_trips": 2, "max_trips": 4}
  ]
})";

std::string with(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

std::string error_of(const std::string& text) {
  auto s = parse_scenario(text);
  REQUIRE_FALSE(s);
  return s.error().message;
}
}  // namespace

TEST_CASE("the built-in demo scenario parses") {
  auto s = parse_scenario(faregate::simulator::embedded_demo_scenario());
  REQUIRE(s);
  CHECK(s->name == "demo");
  CHECK(s->stations.size() == 5);
  CHECK(s->rider_count() == 300);
  CHECK(s->day_end_utc_ms - s->day_start_utc_ms == 19LL * 3600 * 1000);
}

TEST_CASE("the demo's concession riders travel in a non-default rider category of the demo feed") {
  auto s = parse_scenario(faregate::simulator::embedded_demo_scenario());
  REQUIRE(s);
  const auto feed = faregate::simulator::embedded_demo_fares();
  REQUIRE(feed.contains("rider_categories.txt"));
  const std::string& categories = feed.at("rider_categories.txt");
  int concession_riders = 0;
  for (const auto& g : s->groups) {
    if (g.category == "adult") continue;
    INFO(g.category);
    // A line "<id>,<name>,0": the feed's category, not its default one.
    const auto line = categories.find("\n" + g.category + ",");
    REQUIRE(line != std::string::npos);
    const auto end = categories.find('\n', line + 1);
    const std::string row = categories.substr(line + 1, end == std::string::npos ? std::string::npos : end - line - 1);
    CHECK(row.ends_with(",0"));
    concession_riders += g.count;
  }
  CHECK(concession_riders > 0);
}

TEST_CASE("a minimal scenario gets the documented defaults") {
  auto s = parse_scenario(kMinimal);
  REQUIRE(s);
  CHECK(s->seed == 1);
  CHECK(s->entry_validators_per_station == 1);
  CHECK(s->exit_validators_per_station == 1);
  CHECK(s->sync_every_minutes == 60);
  CHECK(s->batch_taps == 200);
  CHECK(s->clock_acceleration == 0);
  CHECK(s->routes.empty());
  CHECK(s->day_start_utc_ms == 1772425800000);  // 2026-03-02T04:30:00Z
  REQUIRE(s->groups.size() == 1);
  CHECK(s->groups[0].name == "riders");
  CHECK(s->groups[0].category == "adult");
  CHECK(s->groups[0].pattern == TravelPattern::kHomeWork);
  // Default peaks: the first quarter of the day and 55% to 80% of it.
  CHECK(s->morning_start_utc_ms == s->day_start_utc_ms);
  CHECK(s->morning_end_utc_ms == s->day_start_utc_ms + 19LL * 3600 * 1000 / 4);
  CHECK(s->evening_start_utc_ms > s->morning_end_utc_ms);
}

TEST_CASE("routes, peaks, the clock and rider groups are read") {
  auto s = parse_scenario(kFull);
  REQUIRE(s);
  CHECK(s->clock_acceleration == 600);
  REQUIRE(s->routes.size() == 2);
  CHECK(s->routes[0].id == "12");
  CHECK(s->routes[0].vehicles == 3);
  CHECK(s->routes[0].minutes_between_stops == 3);
  CHECK(s->routes[1].minutes_between_stops == 5);
  CHECK(s->places() == std::vector<std::string>{"central", "harbour", "park", "hospital", "suburb"});
  CHECK(s->morning_start_utc_ms == 1772434800000);  // 07:00Z
  CHECK(s->evening_end_utc_ms == 1772476200000);    // 18:30Z
  REQUIRE(s->groups.size() == 2);
  CHECK(s->rider_count() == 120);
  CHECK(s->groups[0].homes == std::vector<std::string>{"suburb", "park"});
  CHECK(s->groups[0].card_mix.at("expired") == 1);
  CHECK(s->groups[1].category == "senior");
  CHECK(s->groups[1].pattern == TravelPattern::kWander);
  CHECK(s->groups[1].max_trips == 4);
}

TEST_CASE("scenario errors name the field, its line and its column") {
  CHECK(error_of("{ nope") == "scenario is not valid JSON (line 1, column 4)");
  CHECK(error_of("{\n  \"name\": \"x\",\n  \"seed\": ]\n}") ==
        "scenario is not valid JSON (line 3, column 11)");

  CHECK(error_of(with(kMinimal, "\"count\": 10", "\"count\": -3")) ==
        "riders.count: must be 1..1000000, found -3 (line 4, column 23)");
  CHECK(error_of(with(kMinimal, "2026-03-02T04:30:00Z", "yesterday morning")) ==
        "service_day.start_utc: must look like 2026-03-02T04:30:00Z, found yesterday morning "
        "(line 2, column 32)");
  CHECK(error_of(with(kMinimal, "[\"a\", \"b\"]", "[\"a\"]")) ==
        "stations: must list at least two station ids (or give routes) (line 3, column 15)");
  CHECK(error_of(with(kMinimal, "[\"a\", \"b\"]", "[\"a\", \"a\"]")) ==
        "stations[1]: duplicate station id 'a' (line 3, column 21)");
  // A missing field is reported where its parent is.
  CHECK(error_of(with(kMinimal, "\"count\": 10, ", "")) == "riders.count: missing (line 4, column 13)");
}

TEST_CASE("errors deep in routes and rider groups give their array index and line") {
  CHECK(error_of(with(kFull, "\"vehicles\": 3", "\"vehicles\": 0")) ==
        "routes[0].vehicles: must be 1..500, found 0 (line 10, column 72)");
  CHECK(error_of(with(kFull, "[\"hospital\", \"suburb\"]", "[\"suburb\", \"suburb\"]")) ==
        "routes[1].stops[1]: the route already stops at 'suburb' (line 11, column 38)");
  CHECK(error_of(with(kFull, "\"works\": [\"central\"]", "\"works\": [\"moon\"]")) ==
        "riders[0].works[0]: must be a station or a route stop of this scenario (line 15, "
        "column 81)");
  CHECK(error_of(with(kFull, "\"pattern\": \"wander\"", "\"pattern\": \"random\"")) ==
        "riders[1].pattern: must be \"home_work\" or \"wander\" (line 16, column 71)");
  CHECK(error_of(with(kFull, "\"mastercard\": 1", "\"mastercard\": -1")).starts_with(
      "riders[1].cards.mastercard: weight must be an integer 0..1000000 (line 17"));
  CHECK(error_of(with(kFull, "\"name\": \"seniors\"", "\"name\": \"commuters\"")).starts_with(
      "riders[1].name: duplicate group name 'commuters' (line 16"));
  CHECK(error_of(with(kFull, "\"from\": \"16:00\"", "\"from\": \"4pm\"")) ==
        "peaks.evening.from: must be a UTC time of day like \"07:30\" (line 6, column 33)");
  CHECK(error_of(with(kFull, "\"acceleration\": 600", "\"acceleration\": \"fast\"")).starts_with(
      "clock.acceleration: must be a number 0..1000000"));
}

TEST_CASE("a misspelt field is refused instead of ignored") {
  CHECK(error_of(with(kMinimal, "\"count\": 10", "\"count\": 10, \"forget_tapout_percent\": 5"))
            .starts_with("riders.forget_tapout_percent: unknown field (known here: name, count"));
  CHECK(error_of(with(kFull, "\"vehicles\": 3", "\"vehicle\": 3"))
            .starts_with("routes[0].vehicle: unknown field"));
}

TEST_CASE("a route no rider can reach from the rest of the network is refused") {
  const std::string island = with(kFull, "[\"hospital\", \"suburb\"]", "[\"island\", \"reef\"]");
  CHECK(error_of(island).starts_with("routes[1]: cannot be reached from the rest of the network"));
}

TEST_CASE("a bus-only network needs no stations") {
  auto s = parse_scenario(R"({
    "service_day": {"start_utc": "2026-03-02T04:30:00Z", "end_utc": "2026-03-02T23:30:00Z"},
    "routes": [{"id": "1", "stops": ["x", "y", "z"]}],
    "riders": {"count": 3, "cards": {"visa": 1}}
  })");
  REQUIRE(s);
  CHECK(s->stations.empty());
  CHECK(s->places().size() == 3);
}

TEST_CASE("more than a million riders in all is refused") {
  std::string two_groups = with(kFull, "\"count\": 100", "\"count\": 999990");
  CHECK(error_of(two_groups).starts_with("riders: at most 1000000 riders in all, found 1000010"));
}

TEST_CASE("a service day that ends before it starts is refused") {
  std::string s = kMinimal;
  s.replace(s.find("2026-03-02T23:30:00Z"), 20, "2026-03-02T03:00:00Z");
  auto parsed = parse_scenario(s);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().message.starts_with("service_day"));
}

TEST_CASE("locate_json_path finds values by path and survives odd input") {
  const std::string text = "{\"a\": [1, {\"b\\\"c\": \"x\"}],\n \"d\": {\"e\": [[], {}, 7]}}";
  auto root = locate_json_path(text, "");
  REQUIRE(root);
  CHECK(root->column == 1);
  auto a1 = locate_json_path(text, "a[1]");
  REQUIRE(a1);
  CHECK(a1->line == 1);
  CHECK(a1->column == 11);
  auto e2 = locate_json_path(text, "d.e[2]");
  REQUIRE(e2);
  CHECK(e2->line == 2);
  CHECK(e2->column == 22);
  CHECK_FALSE(locate_json_path(text, "d.e[3]"));
  CHECK_FALSE(locate_json_path(text, "zzz"));
  CHECK_FALSE(locate_json_path("", "a"));
  CHECK_FALSE(locate_json_path("{\"a\": [1, 2", "a[5]"));
  CHECK_FALSE(locate_json_path("{\"a\"", "a"));
  // Deep nesting: no recursion, no stack overflow.
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  CHECK_FALSE(locate_json_path(deep, "x"));
  CHECK(locate_json_path(deep, "[0][0][0]"));
}

TEST_CASE("a scenario's fares name the feed, the acquirer and the service day start") {
  auto none = parse_scenario(kMinimal);
  REQUIRE(none);
  CHECK_FALSE(none->fares);
  auto demo = parse_scenario(faregate::simulator::embedded_demo_scenario());
  REQUIRE(demo);
  REQUIRE(demo->fares);
  CHECK(demo->fares->feed == "demo");
  CHECK(demo->fares->acquirer == "simulated:decline-iin=476199");
  auto defaults = parse_scenario(with(kMinimal, "\"stations\"", "\"fares\": {\"feed\": \"feeds/city\"},\n  \"stations\""));
  REQUIRE(defaults);
  REQUIRE(defaults->fares);
  CHECK(defaults->fares->feed == "feeds/city");
  CHECK(defaults->fares->acquirer == "simulated");
  CHECK(defaults->fares->service_day_start == "04:30");
  CHECK(error_of(with(kMinimal, "\"stations\"", "\"fares\": {\"acquirer\": \"simulated\"},\n  \"stations\"")) ==
        "fares.feed: must be \"demo\" or a GTFS directory (line 3, column 12)");
  CHECK(error_of(with(kMinimal, "\"stations\"", "\"fares\": {\"feed\": \"demo\", \"acquire\": \"x\"},\n  \"stations\""))
            .starts_with("fares.acquire: unknown field"));
}
