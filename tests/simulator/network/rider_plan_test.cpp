#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "simulator/network/rider_plan.h"

using namespace faregate::simulator;

namespace {
constexpr std::int64_t kHour = 3600 * 1000;

Scenario rail_only() {
  Scenario s;
  s.name = "t";
  s.seed = 99;
  s.day_start_utc_ms = 1'000'000'000'000;
  s.day_end_utc_ms = s.day_start_utc_ms + 18 * kHour;
  s.morning_start_utc_ms = s.day_start_utc_ms;
  s.morning_end_utc_ms = s.day_start_utc_ms + 4 * kHour;
  s.evening_start_utc_ms = s.day_start_utc_ms + 10 * kHour;
  s.evening_end_utc_ms = s.day_start_utc_ms + 14 * kHour;
  s.stations = {"a", "b", "c"};
  s.entry_validators_per_station = 2;
  s.exit_validators_per_station = 1;
  RiderGroup g;
  g.name = "everyone";
  g.count = 200;
  g.min_trips = 1;
  g.max_trips = 3;
  g.card_mix = {{"visa", 3}, {"expired", 1}};
  g.forget_tap_out_percent = 10;
  s.groups = {g};
  return s;
}

Scenario with_buses() {
  Scenario s = rail_only();
  s.routes = {{"12", {"a", "park", "hospital"}, 3, 3}, {"40", {"hospital", "suburb"}, 1, 5}};
  s.groups[0].homes = {"suburb"};
  s.groups[0].works = {"b"};
  s.groups[0].card_mix = {{"visa", 1}};
  s.groups[0].forget_tap_out_percent = 0;
  s.groups[0].min_trips = 2;
  s.groups[0].max_trips = 2;
  return s;
}

std::vector<std::vector<const TapEvent*>> taps_by_rider(const NetworkPlan& plan) {
  std::vector<std::vector<const TapEvent*>> by_rider(plan.riders.size());
  for (const auto& t : plan.taps) by_rider[t.rider].push_back(&t);
  return by_rider;
}
}  // namespace

TEST_CASE("the same seed plans the same day") {
  const auto a = plan_network(rail_only());
  const auto b = plan_network(rail_only());
  REQUIRE(a.taps.size() == b.taps.size());
  for (std::size_t i = 0; i < a.taps.size(); ++i) {
    CHECK(a.taps[i].time_utc_ms == b.taps[i].time_utc_ms);
    CHECK(a.taps[i].validator == b.taps[i].validator);
  }
  auto other = rail_only();
  other.seed = 100;
  const auto c = plan_network(other);
  const bool differs = c.taps.size() != a.taps.size() ||
                       c.taps.front().time_utc_ms != a.taps.front().time_utc_ms;
  CHECK(differs);
}

TEST_CASE("a plan has the scenario's validators, in-day ordered taps and its tap-out rate") {
  const Scenario s = rail_only();
  const auto plan = plan_network(s);
  CHECK(plan.validators.size() == 9);
  CHECK(plan.riders.size() == 200);
  CHECK(plan.trips >= 200);
  CHECK(plan.trips <= 600);
  CHECK(plan.bus_legs == 0);
  // An accepted rider's rail leg has an entry tap and, unless forgotten, an exit tap; a refused
  // rider makes one tap per journey.
  CHECK(plan.taps.size() == 2 * plan.rail_legs - plan.forgotten_tap_outs + plan.refused_trips);
  CHECK(plan.forgotten_tap_outs > 0);
  CHECK(plan.forgotten_tap_outs < plan.rail_legs / 4);
  CHECK(plan.refused_trips > 0);
  for (std::size_t i = 0; i < plan.taps.size(); ++i) {
    CHECK(plan.taps[i].time_utc_ms >= s.day_start_utc_ms);
    CHECK(plan.taps[i].time_utc_ms <= s.day_end_utc_ms);
    if (i > 0) CHECK(plan.taps[i - 1].time_utc_ms <= plan.taps[i].time_utc_ms);
  }
  std::set<std::string> kinds;
  for (const auto& r : plan.riders) kinds.insert(r.card_kind);
  CHECK(kinds == std::set<std::string>{"visa", "expired"});
}

TEST_CASE("each rider's taps are numbered in time order and match the planned count") {
  const auto plan = plan_network(with_buses());
  const auto by_rider = taps_by_rider(plan);
  for (std::size_t r = 0; r < by_rider.size(); ++r) {
    REQUIRE(by_rider[r].size() == plan.riders[r].taps);
    for (std::size_t i = 0; i < by_rider[r].size(); ++i) {
      CHECK(by_rider[r][i]->rider_tap == i);
      if (i > 0) CHECK(by_rider[r][i - 1]->time_utc_ms < by_rider[r][i]->time_utc_ms);
    }
  }
}

TEST_CASE("a rider's trips never overlap and alternate entry and exit gate lines") {
  const auto plan = plan_network(rail_only());
  for (const auto& taps : taps_by_rider(plan)) {
    REQUIRE_FALSE(taps.empty());
    CHECK(plan.validators[taps.front()->validator].kind == ValidatorKind::kEntry);
    for (std::size_t i = 1; i < taps.size(); ++i) {
      CHECK(taps[i - 1]->time_utc_ms < taps[i]->time_utc_ms);
      // Two exits in a row never happen: an exit always follows its own entry.
      const bool entry_involved =
          plan.validators[taps[i - 1]->validator].kind == ValidatorKind::kEntry ||
          plan.validators[taps[i]->validator].kind == ValidatorKind::kEntry;
      CHECK(entry_involved);
    }
  }
}

TEST_CASE("every vehicle has an onboard validator that knows its route") {
  const auto plan = plan_network(with_buses());
  std::map<std::string, int> per_route;
  for (const auto& v : plan.validators) {
    if (v.kind != ValidatorKind::kOnboard) continue;
    ++per_route[v.route_id];
    CHECK(v.device_id.starts_with("bus-" + v.route_id + "-"));
  }
  CHECK(per_route == std::map<std::string, int>{{"12", 3}, {"40", 1}});
  CHECK(plan.validators.size() == 9 + 4);
}

TEST_CASE("home to work by bus and rail in the morning, back in the evening") {
  const Scenario s = with_buses();
  const auto plan = plan_network(s);
  CHECK(plan.bus_legs > 0);
  CHECK(plan.rail_legs > 0);
  for (std::size_t r = 0; r < plan.riders.size(); ++r) {
    CHECK(plan.riders[r].home == "suburb");
    CHECK(plan.riders[r].work == "b");
  }
  // suburb -> (bus 40) hospital -> (bus 12) a -> (rail) b: bus, bus, entry, exit; then back.
  const auto by_rider = taps_by_rider(plan);
  for (const auto& taps : by_rider) {
    if (taps.size() != 8) continue;  // a journey that would end after the day is left out
    std::vector<std::string> route;
    for (const TapEvent* t : taps) {
      const auto& v = plan.validators[t->validator];
      route.push_back(v.kind == ValidatorKind::kOnboard ? "bus " + v.route_id
                      : v.kind == ValidatorKind::kEntry ? "in " + v.stop_id
                                                         : "out " + v.stop_id);
    }
    CHECK(route == std::vector<std::string>{"bus 40", "bus 12", "in a", "out b", "in b", "out a",
                                            "bus 12", "bus 40"});
    CHECK(taps.front()->time_utc_ms >= s.morning_start_utc_ms);
    CHECK(taps.front()->time_utc_ms <= s.morning_end_utc_ms);
    CHECK(taps[4]->time_utc_ms >= s.evening_start_utc_ms);
  }
}

TEST_CASE("a rider whose card is refused taps once per journey and expects the card's reason") {
  Scenario s = rail_only();
  s.groups[0].card_mix = {{"expired", 1}};
  const auto plan = plan_network(s);
  CHECK(plan.taps.size() == plan.trips);
  CHECK(plan.refused_trips == plan.trips);
  for (const auto& r : plan.riders) {
    CHECK_FALSE(r.expect_accept);
    CHECK(r.expect_reason == "card_expired");
  }
}

TEST_CASE("rider groups keep their order and their own card mix") {
  Scenario s = rail_only();
  RiderGroup seniors = s.groups[0];
  seniors.name = "seniors";
  seniors.category = "senior";
  seniors.count = 30;
  seniors.card_mix = {{"mastercard", 1}};
  seniors.pattern = TravelPattern::kWander;
  s.groups.push_back(seniors);
  const auto plan = plan_network(s);
  REQUIRE(plan.riders.size() == 230);
  for (std::size_t r = 200; r < 230; ++r) {
    CHECK(plan.riders[r].group == 1);
    CHECK(plan.riders[r].card_kind == "mastercard");
    CHECK(plan.riders[r].expect_accept);
  }
  CHECK(plan.riders[0].group == 0);
}
