#include <catch2/catch.hpp>

#include <set>

#include "simulator/network/rider_plan.h"

using namespace faregate::simulator;

namespace {
Scenario sample() {
  Scenario s;
  s.name = "t";
  s.seed = 99;
  s.day_start_utc_ms = 1'000'000'000'000;
  s.day_end_utc_ms = s.day_start_utc_ms + 18LL * 3600 * 1000;
  s.stations = {"a", "b", "c"};
  s.entry_validators_per_station = 2;
  s.exit_validators_per_station = 1;
  s.riders = 200;
  s.min_trips_per_rider = 1;
  s.max_trips_per_rider = 3;
  s.card_mix = {{"visa", 3}, {"expired", 1}};
  s.forget_tap_out_percent = 10;
  return s;
}
}  // namespace

TEST_CASE("the same seed plans the same day") {
  const auto a = plan_network(sample());
  const auto b = plan_network(sample());
  REQUIRE(a.taps.size() == b.taps.size());
  for (std::size_t i = 0; i < a.taps.size(); ++i) {
    CHECK(a.taps[i].time_utc_ms == b.taps[i].time_utc_ms);
    CHECK(a.taps[i].validator == b.taps[i].validator);
  }
  auto other = sample();
  other.seed = 100;
  const auto c = plan_network(other);
  const bool differs = c.taps.size() != a.taps.size() ||
                       c.taps.front().time_utc_ms != a.taps.front().time_utc_ms;
  CHECK(differs);
}

TEST_CASE("a plan has the scenario's validators, in-day ordered taps and its tap-out rate") {
  const Scenario s = sample();
  const auto plan = plan_network(s);
  CHECK(plan.validators.size() == 9);
  CHECK(plan.riders.size() == 200);
  CHECK(plan.trips >= 200);
  CHECK(plan.trips <= 600);
  // Every trip has an entry tap; exits are missing exactly for the forgotten tap-outs.
  CHECK(plan.taps.size() == 2 * plan.trips - plan.forgotten_tap_outs);
  CHECK(plan.forgotten_tap_outs > 0);
  CHECK(plan.forgotten_tap_outs < plan.trips / 4);
  for (std::size_t i = 0; i < plan.taps.size(); ++i) {
    CHECK(plan.taps[i].time_utc_ms >= s.day_start_utc_ms);
    CHECK(plan.taps[i].time_utc_ms <= s.day_end_utc_ms);
    if (i > 0) CHECK(plan.taps[i - 1].time_utc_ms <= plan.taps[i].time_utc_ms);
  }
  std::set<std::string> kinds;
  for (const auto& r : plan.riders) kinds.insert(r.card_kind);
  CHECK(kinds == std::set<std::string>{"visa", "expired"});
}

TEST_CASE("a rider's trips never overlap and alternate entry and exit gate lines") {
  const auto plan = plan_network(sample());
  std::vector<std::vector<const TapEvent*>> by_rider(plan.riders.size());
  for (const auto& t : plan.taps) by_rider[t.rider].push_back(&t);
  for (const auto& taps : by_rider) {
    REQUIRE_FALSE(taps.empty());
    CHECK(plan.validators[taps.front()->validator].entry);
    for (std::size_t i = 1; i < taps.size(); ++i) {
      CHECK(taps[i - 1]->time_utc_ms < taps[i]->time_utc_ms);
      // Two exits in a row never happen: an exit always follows its own entry.
      const bool prev_entry = plan.validators[taps[i - 1]->validator].entry;
      const bool this_entry = plan.validators[taps[i]->validator].entry;
      const bool entry_involved = prev_entry || this_entry;
      CHECK(entry_involved);
    }
  }
}
