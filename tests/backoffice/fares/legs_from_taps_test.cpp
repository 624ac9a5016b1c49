// Legs from taps: pairing, onboard taps, double taps, missing tap-out and tap-in with
// auto-completion, over-time journeys, service days, late taps and idempotent re-pricing.
#include <algorithm>
#include <random>

#include "tests/backoffice/fares/fares_test_support.h"

using namespace faregate::fares;
using namespace faregate::fares::testing;

TEST_CASE("entry and exit at gated stations pair into a leg on the network serving both", "[fares][legs]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.entry("a", "2026-03-03T08:00:00+01:00", "central-gate").exit("a", "2026-03-03T08:20:00+01:00", "airport-gate");
  const auto r = price(p, t.all());
  const auto& d = day_of(r, "a", "2026-03-03");
  REQUIRE(d.leg_count == 1);
  const auto& leg = r.legs_of(d)[0];
  CHECK(leg.kind == LegKind::kComplete);
  CHECK(leg.first_tap == 0);
  CHECK(leg.last_tap == 1);
  // The gates have no route: the network comes from the routes calling at both stations.
  CHECK(leg.network == p.network_ids.find("metro"));
  CHECK(leg.fare_product == p.fare_products_ids.find("metro_z12"));
  CHECK(d.total == 350);
}

TEST_CASE("an onboard tap is one leg on the validator's route", "[fares][legs]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-c", "b8");
  const auto r = price(p, t.all());
  const auto& leg = r.legs_of(day_of(r, "a", "2026-03-03"))[0];
  CHECK(leg.kind == LegKind::kOnboard);
  CHECK(leg.network == p.network_ids.find("bus"));
  CHECK(leg.to_stop == kNone);
  CHECK(leg.charged == 150);
}

TEST_CASE("an accidental double tap is dropped and reported, a later second tap is a new leg", "[fares][legs]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a");
  t.bus("a", "2026-03-03T08:00:20+01:00", "bus-a");  // 20 s later: the same boarding
  t.bus("a", "2026-03-03T08:05:00+01:00", "bus-a");  // 5 min later: a second fare (a companion)
  t.entry("b", "2026-03-03T08:00:00+01:00", "central-gate");
  t.entry("b", "2026-03-03T08:00:30+01:00", "central-gate");  // second reader of the same gate line
  t.exit("b", "2026-03-03T08:10:00+01:00", "north-gate");
  const auto r = price(p, t.all());
  check_books(r);
  const auto& a = day_of(r, "a", "2026-03-03");
  CHECK(charges(r, a) == std::vector<std::int64_t>{150, 150});
  REQUIRE(a.orphan_count == 1);
  CHECK(r.orphans_of(a)[0].reason == OrphanReason::kDoubleTap);
  CHECK(r.orphans_of(a)[0].tap == 1);
  const auto& b = day_of(r, "b", "2026-03-03");
  CHECK(charges(r, b) == std::vector<std::int64_t>{200});
  CHECK(b.orphan_count == 1);
}

TEST_CASE("a missing tap-out with nothing after it is charged the maximum fare from the entry", "[fares][legs][missing-taps]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.entry("a", "2026-03-03T08:00:00+01:00", "central-gate");
  const auto r = price(p, t.all());
  const auto& d = day_of(r, "a", "2026-03-03");
  const auto& leg = r.legs_of(d)[0];
  CHECK(leg.kind == LegKind::kMissingTapOut);
  CHECK(leg.fare == 350);  // the dearest fare from zone1 (to zone2), not the 2.00 within zone1
  CHECK(d.maximum_fare_legs == 1);
}

TEST_CASE("a missing tap-out is auto-completed when the next tap shows where the rider left", "[fares][legs][missing-taps]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.entry("a", "2026-03-03T08:00:00+01:00", "central-gate");               // no tap-out
  t.entry("a", "2026-03-03T17:30:00+01:00", "north-gate").exit("a", "2026-03-03T17:45:00+01:00", "central-gate");
  const auto r = price(p, t.all());
  check_books(r);
  const auto& d = day_of(r, "a", "2026-03-03");
  const auto legs = r.legs_of(d);
  REQUIRE(legs.size() == 2);
  CHECK(legs[0].kind == LegKind::kAutoCompletedTapOut);
  CHECK(legs[0].to_stop == p.stop_index("north-gate"));
  CHECK(legs[0].fare == 200);  // central -> north, a zone1 journey, not the 3.50 maximum
  CHECK(d.total == 400);
  // Auto-completion off: the maximum fare stays.
  EngineOptions strict;
  strict.auto_complete = false;
  const auto s = price(p, t.all(), strict);
  CHECK(day_of(s, "a", "2026-03-03").total == 350 + 200);
}

TEST_CASE("a missing tap-in is auto-completed from the previous exit, else charged the maximum fare to the exit", "[fares][legs][missing-taps]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.entry("a", "2026-03-03T08:00:00+01:00", "airport-gate").exit("a", "2026-03-03T08:20:00+01:00", "north-gate");
  t.exit("a", "2026-03-03T17:40:00+01:00", "central-gate");  // re-entered at north without tapping
  t.exit("b", "2026-03-03T09:00:00+01:00", "central-gate");  // nothing before: maximum fare
  const auto r = price(p, t.all());
  check_books(r);
  const auto legs = r.legs_of(day_of(r, "a", "2026-03-03"));
  REQUIRE(legs.size() == 2);
  CHECK(legs[1].kind == LegKind::kAutoCompletedTapIn);
  CHECK(legs[1].from_stop == p.stop_index("north-gate"));
  CHECK(legs[1].fare == 200);
  const auto& b = r.legs_of(day_of(r, "b", "2026-03-03"))[0];
  CHECK(b.kind == LegKind::kMissingTapIn);
  CHECK(b.fare == 350);
  CHECK(b.from_stop == kNone);
}

TEST_CASE("an entry and exit further apart than the maximum journey time cost the maximum fare", "[fares][legs][missing-taps]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.entry("a", "2026-03-03T08:00:00+01:00", "central-gate").exit("a", "2026-03-03T12:00:00+01:00", "north-gate");
  const auto r = price(p, t.all());
  const auto& leg = r.legs_of(day_of(r, "a", "2026-03-03"))[0];
  CHECK(leg.kind == LegKind::kOverTime);
  CHECK(leg.fare == 350);
  EngineOptions relaxed;
  relaxed.max_journey_ms = 5 * 3600 * 1000;
  CHECK(price(p, t.all(), relaxed).legs[0].fare == 200);
}

TEST_CASE("taps naming a stop or route the feed does not know are orphans, listed per day", "[fares][legs]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "atlantis");
  t.bus("a", "2026-03-03T09:00:00+01:00", "bus-a", "b99");
  t.bus("a", "2026-03-04T09:00:00+01:00", "bus-a");
  const auto r = price(p, t.all());
  const auto& d3 = day_of(r, "a", "2026-03-03");
  CHECK(d3.leg_count == 0);
  REQUIRE(d3.orphan_count == 2);
  CHECK(r.orphans_of(d3)[0].reason == OrphanReason::kUnknownStop);
  CHECK(r.orphans_of(d3)[1].reason == OrphanReason::kUnknownRoute);
  CHECK(day_of(r, "a", "2026-03-04").total == 150);
}

TEST_CASE("service days are cut at the configured local time in the agency's time zone", "[fares][legs][time]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-04T04:29:00+01:00", "bus-a");
  t.bus("a", "2026-03-04T04:31:00+01:00", "bus-b");
  // In summer time the cut is still 04:30 local (02:30 UTC).
  t.bus("a", "2026-07-01T02:20:00Z", "bus-a");
  t.bus("a", "2026-07-01T02:40:00Z", "bus-b");
  const auto r = price(p, t.all());
  CHECK(day_of(r, "a", "2026-03-03").leg_count == 1);
  CHECK(day_of(r, "a", "2026-03-04").leg_count == 1);
  CHECK(day_of(r, "a", "2026-06-30").leg_count == 1);
  CHECK(day_of(r, "a", "2026-07-01").leg_count == 1);
  EngineOptions three;
  three.service_day_start_s = 3 * 3600;
  const auto r3 = price(p, t.all(), three);
  CHECK(day_of(r3, "a", "2026-03-04").leg_count == 2);
}

TEST_CASE("a late tap re-prices its day: the maximum fare becomes the completed journey", "[fares][legs][late-taps]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.entry("a", "2026-03-03T08:00:00+01:00", "central-gate");
  t.exit("a", "2026-03-03T08:15:00+01:00", "north-gate");  // from a validator offline for days
  std::vector<Tap> first_run(t.all().begin(), t.all().begin() + 1);
  const auto before = price(p, first_run);
  CHECK(day_of(before, "a", "2026-03-03").total == 350);
  const auto after = price(p, t.all());
  CHECK(day_of(after, "a", "2026-03-03").total == 200);
  CHECK(day_of(after, "a", "2026-03-03").maximum_fare_legs == 0);
}

TEST_CASE("pricing is idempotent: input order and taps given twice change nothing", "[fares][legs][late-taps]") {
  Files f = base_feed();
  f["fare_transfer_rules.txt"] =
      "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id\n"
      "bus,bus,-1,3600,1,0,free\nmetro,bus,,3600,2,0,free\n";
  f["faregate_fare_caps.txt"] = "cap_id,cap_period,max_amount,currency\ndaily,0,5.00,EUR\n";
  const FarePolicy p = load(f);
  Taps t(p);
  const char* stops[] = {"bus-a", "bus-b", "bus-c"};
  for (int c = 0; c < 50; ++c) {
    const std::string who = "card" + std::to_string(c);
    for (int i = 0; i < 6; ++i) {
      const std::string iso = "2026-03-0" + std::to_string(2 + (i + c) % 3) + "T" + std::to_string(10 + i) + ":" +
                              std::to_string(10 + c % 40) + ":00+01:00";
      if ((i + c) % 4 == 0) {
        t.entry(who, iso.c_str(), "central-gate");
      } else if ((i + c) % 4 == 1) {
        t.exit(who, iso.c_str(), "airport-gate");
      } else {
        t.bus(who, iso.c_str(), stops[(i + c) % 3]);
      }
    }
  }
  const auto reference = price(p, t.all());
  check_books(reference);
  std::vector<Tap> shuffled = t.all();
  shuffled.insert(shuffled.end(), t.all().begin(), t.all().begin() + 40);  // resent batch
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  const auto again = price(p, shuffled);
  CHECK(again.duplicate_taps == 40);
  REQUIRE(again.days.size() == reference.days.size());
  for (std::size_t i = 0; i < reference.days.size(); ++i) {
    CHECK(again.days[i].card == reference.days[i].card);
    CHECK(again.days[i].service_day == reference.days[i].service_day);
    CHECK(again.days[i].total == reference.days[i].total);
    CHECK(again.days[i].transfer_discount == reference.days[i].transfer_discount);
    CHECK(again.days[i].cap_discount == reference.days[i].cap_discount);
    CHECK(again.days[i].leg_count == reference.days[i].leg_count);
  }
}

TEST_CASE("pricing on several threads gives the same result as on one", "[fares][engine]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  for (int c = 0; c < 3000; ++c) {
    const std::string who = "rider-" + std::to_string(c);
    t.bus(who, "2026-03-03T08:00:00+01:00", c % 2 ? "bus-a" : "bus-b");
    t.entry(who, "2026-03-03T09:00:00+01:00", "central-gate");
    if (c % 5 != 0) t.exit(who, "2026-03-03T09:20:00+01:00", c % 3 ? "north-gate" : "airport-gate");
  }
  EngineOptions one, two;
  two.threads = 2;
  const auto a = price(p, t.all(), one);
  const auto b = price(p, t.all(), two);
  check_books(b);
  REQUIRE(a.days.size() == b.days.size());
  REQUIRE(a.legs.size() == b.legs.size());
  std::int64_t sum_a = 0, sum_b = 0;
  for (std::size_t i = 0; i < a.days.size(); ++i) {
    CHECK(a.days[i].card == b.days[i].card);
    CHECK(a.days[i].total == b.days[i].total);
    sum_a += a.days[i].total;
    sum_b += b.days[i].total;
  }
  CHECK(sum_a == sum_b);
  std::int64_t expected = 0;
  for (int c = 0; c < 3000; ++c) {
    expected += 150;                                         // the bus ride
    expected += c % 5 == 0 ? 350 : (c % 3 ? 200 : 350);      // maximum fare, zone1 or zone1->2
  }
  CHECK(sum_a == expected);
}
