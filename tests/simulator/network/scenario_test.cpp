#include <catch2/catch.hpp>

#include "simulator/network/scenario.h"

using faregate::simulator::parse_scenario;

namespace {
const char* kMinimal = R"({
  "service_day": {"start_utc": "2026-03-02T04:30:00Z", "end_utc": "2026-03-02T23:30:00Z"},
  "stations": ["a", "b"],
  "riders": {"count": 10, "cards": {"visa": 1}}
})";
}

TEST_CASE("the built-in demo scenario parses") {
  auto s = parse_scenario(faregate::simulator::embedded_demo_scenario());
  REQUIRE(s);
  CHECK(s->name == "demo");
  CHECK(s->stations.size() == 5);
  CHECK(s->riders == 300);
  CHECK(s->day_end_utc_ms - s->day_start_utc_ms == 19LL * 3600 * 1000);
}

TEST_CASE("a minimal scenario gets the documented defaults") {
  auto s = parse_scenario(kMinimal);
  REQUIRE(s);
  CHECK(s->seed == 1);
  CHECK(s->entry_validators_per_station == 1);
  CHECK(s->exit_validators_per_station == 1);
  CHECK(s->sync_every_minutes == 60);
  CHECK(s->batch_taps == 200);
  CHECK(s->day_start_utc_ms == 1772425800000);  // 2026-03-02T04:30:00Z
}

TEST_CASE("scenario errors name the field at fault") {
  auto not_json = parse_scenario("{ nope");
  REQUIRE_FALSE(not_json);
  CHECK(not_json.error().message == "scenario is not valid JSON");

  std::string bad_count = kMinimal;
  bad_count.replace(bad_count.find("\"count\": 10"), 11, "\"count\": -3");
  auto count = parse_scenario(bad_count);
  REQUIRE_FALSE(count);
  CHECK(count.error().message.starts_with("riders.count: must be 1..1000000"));

  std::string bad_time = kMinimal;
  bad_time.replace(bad_time.find("2026-03-02T04:30:00Z"), 20, "yesterday morning");
  auto time = parse_scenario(bad_time);
  REQUIRE_FALSE(time);
  CHECK(time.error().message.starts_with("service_day.start_utc"));

  std::string one_station = kMinimal;
  one_station.replace(one_station.find("[\"a\", \"b\"]"), 10, "[\"a\"]");
  auto stations = parse_scenario(one_station);
  REQUIRE_FALSE(stations);
  CHECK(stations.error().message.starts_with("stations"));
}

TEST_CASE("a service day that ends before it starts is refused") {
  std::string s = kMinimal;
  s.replace(s.find("2026-03-02T23:30:00Z"), 20, "2026-03-02T03:00:00Z");
  auto parsed = parse_scenario(s);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().message.starts_with("service_day"));
}
