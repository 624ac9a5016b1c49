// fare_leg_rules.txt matching: both meanings of an empty field, rule_priority, timeframes on
// the local date, rider categories and fare media, join rules, unknown fares.
#include "tests/backoffice/fares/fares_test_support.h"

using namespace faregate::fares;
using namespace faregate::fares::testing;

namespace {

// Fares of single metro journeys central->north (zone1->zone1), central->airport
// (zone1->zone2) and airport->airport (zone2->zone2).
std::vector<std::int64_t> metro_fares(const FarePolicy& p) {
  Taps t(p);
  t.entry("a", "2026-03-03T10:00:00+01:00", "central-gate").exit("a", "2026-03-03T10:20:00+01:00", "north-gate");
  t.entry("b", "2026-03-03T10:00:00+01:00", "central-gate").exit("b", "2026-03-03T10:20:00+01:00", "airport-gate");
  t.entry("c", "2026-03-03T10:00:00+01:00", "airport-gate").exit("c", "2026-03-03T10:20:00+01:00", "airport-gate");
  const auto r = price(p, t.all());
  check_books(r);
  std::vector<std::int64_t> out;
  for (const char* who : {"a", "b", "c"}) {
    const auto& d = day_of(r, who, "2026-03-03");
    out.push_back(d.unpriced_legs ? -1 : d.total);
  }
  return out;
}

}  // namespace

TEST_CASE("with rule_priority an empty field matches anything and the highest priority wins", "[fares][rules]") {
  // Base feed: zone1->zone1 at priority 1 (2.00), everything else on the metro at 0 (3.50).
  const FarePolicy p = load(base_feed());
  CHECK(metro_fares(p) == std::vector<std::int64_t>{200, 350, 350});
}

TEST_CASE("without rule_priority an empty field means every value no rule lists", "[fares][rules]") {
  Files f = base_feed();
  f["fare_products.txt"] += "z1_any,Zone 1 to elsewhere,,,2.75,EUR\nanywhere,Anywhere,,,5.00,EUR\n";
  // to_area_id empty = every arrival area except zone1 (listed on line 2); from_area_id empty =
  // every departure area except zone1.
  f["fare_leg_rules.txt"] =
      "leg_group_id,network_id,from_area_id,to_area_id,fare_product_id\n"
      "metro,metro,zone1,zone1,metro_z1\n"
      "metro,metro,zone1,,z1_any\n"
      "metro,metro,,,anywhere\n"
      "bus,bus,,,bus\n";
  const FarePolicy p = load(f);
  CHECK_FALSE(p.has_rule_priority);
  // zone1->zone1 matches only its exact rule (the empty to_area excludes zone1): 2.00.
  // zone1->zone2 matches line 3 only: 2.75. zone2->zone2 matches line 4 only: 5.00.
  CHECK(metro_fares(p) == std::vector<std::int64_t>{200, 275, 500});

  // The same rules with a rule_priority column (all empty, so all priority 0): an empty field
  // now matches anything, every rule applies to zone1->zone1 and the rider pays the cheapest.
  f["fare_leg_rules.txt"] =
      "leg_group_id,network_id,from_area_id,to_area_id,fare_product_id,rule_priority\n"
      "metro,metro,zone1,zone1,metro_z1,\n"
      "metro,metro,zone1,,z1_any,\n"
      "metro,metro,,,anywhere,\n"
      "bus,bus,,,bus,\n";
  f["fare_products.txt"] += "cheap_any,Cheap anywhere,,,1.50,EUR\n";
  f["fare_leg_rules.txt"] += "metro,metro,,,cheap_any,\n";
  const FarePolicy q = load(f);
  CHECK(q.has_rule_priority);
  CHECK(metro_fares(q) == std::vector<std::int64_t>{150, 150, 150});
}

TEST_CASE("without rule_priority an empty network_id matches only networks no rule lists", "[fares][rules]") {
  Files f = base_feed();
  f["routes.txt"] += "t1,T1,0,tram\n";
  f["fare_products.txt"] += "other,Other networks,,,0.90,EUR\n";
  f["fare_leg_rules.txt"] =
      "leg_group_id,network_id,from_area_id,to_area_id,fare_product_id\n"
      "bus,bus,,,bus\n"
      "other,,,,other\n";
  const FarePolicy p = load(f);
  Taps t(p);
  t.bus("bus", "2026-03-03T10:00:00+01:00", "bus-a", "b7");
  t.bus("tram", "2026-03-03T10:00:00+01:00", "bus-a", "t1");
  const auto r = price(p, t.all());
  CHECK(day_of(r, "bus", "2026-03-03").total == 150);   // bus is listed: only its rule
  CHECK(day_of(r, "tram", "2026-03-03").total == 90);   // tram is not: the empty network_id rule
}

TEST_CASE("timeframes are evaluated on the tap's local date and wall clock", "[fares][rules][time]") {
  Files f = base_feed();
  f["timeframes.txt"] =
      "timeframe_group_id,start_time,end_time,service_id\n"
      "peak,07:00:00,09:00:00,weekdays\n"
      "saturday_night,00:00:00,04:30:00,saturdays\n";
  f["fare_products.txt"] += "bus_peak,Bus peak,,,2.10,EUR\nbus_night,Bus night,,,3.00,EUR\n";
  f["fare_leg_rules.txt"] =
      "leg_group_id,network_id,from_area_id,to_area_id,from_timeframe_group_id,fare_product_id,rule_priority\n"
      "bus,bus,,,peak,bus_peak,1\n"
      "bus,bus,,,saturday_night,bus_night,1\n"
      "bus,bus,,,,bus,0\n";
  const FarePolicy p = load(f);
  Taps t(p);
  t.bus("mon-peak", "2026-03-02T08:30:00+01:00", "bus-a");
  t.bus("mon-late", "2026-03-02T09:00:00+01:00", "bus-a");       // end is exclusive
  t.bus("sat-morning", "2026-03-07T08:30:00+01:00", "bus-a");    // no peak on Saturdays
  // 30 March is after the switch to summer time: 08:30 local is 06:30 UTC; still peak.
  t.bus("summer-peak", "2026-03-30T06:30:00Z", "bus-a");
  t.bus("summer-early", "2026-03-30T05:30:00Z", "bus-a");         // 07:30 local... peak too
  t.bus("summer-utc-peak", "2026-03-30T07:30:00Z", "bus-a");      // 09:30 local: not peak
  // Saturday 01:00 belongs to Friday's service day (cut 04:30) but its calendar date is
  // Saturday: the saturday_night timeframe applies.
  t.bus("night", "2026-03-07T01:00:00+01:00", "bus-a");
  const auto r = price(p, t.all());
  check_books(r);
  CHECK(day_of(r, "mon-peak", "2026-03-02").total == 210);
  CHECK(day_of(r, "mon-late", "2026-03-02").total == 150);
  CHECK(day_of(r, "sat-morning", "2026-03-07").total == 150);
  CHECK(day_of(r, "summer-peak", "2026-03-30").total == 210);
  CHECK(day_of(r, "summer-early", "2026-03-30").total == 210);
  CHECK(day_of(r, "summer-utc-peak", "2026-03-30").total == 150);
  CHECK(day_of(r, "night", "2026-03-06").total == 300);
}

TEST_CASE("to_timeframe_group_id is evaluated at the exit validation", "[fares][rules][time]") {
  Files f = base_feed();
  f["timeframes.txt"] = "timeframe_group_id,start_time,end_time,service_id\nevening,18:00:00,24:00:00,everyday\n";
  f["fare_products.txt"] += "metro_evening,Evening,,,1.20,EUR\n";
  f["fare_leg_rules.txt"] =
      "leg_group_id,network_id,from_area_id,to_area_id,to_timeframe_group_id,fare_product_id,rule_priority\n"
      "metro,metro,,,evening,metro_evening,2\n"
      "metro,metro,zone1,zone1,,metro_z1,1\n"
      "metro,metro,,,,metro_z12,0\n";
  const FarePolicy p = load(f);
  Taps t(p);
  t.entry("a", "2026-03-03T17:50:00+01:00", "central-gate").exit("a", "2026-03-03T18:10:00+01:00", "airport-gate");
  t.entry("b", "2026-03-03T17:30:00+01:00", "central-gate").exit("b", "2026-03-03T17:55:00+01:00", "airport-gate");
  const auto r = price(p, t.all());
  CHECK(day_of(r, "a", "2026-03-03").total == 120);
  CHECK(day_of(r, "b", "2026-03-03").total == 350);
}

TEST_CASE("rider category comes from the registry, a tap overrides it, and a category without its own price pays the default", "[fares][rules][concessions]") {
  const FarePolicy p = load(base_feed());
  EntitlementRegistry registry;
  registry.add(card("grandma"), Entitlement{"senior"});
  registry.add(card("pupil"), Entitlement{"student"});
  registry.add(card("expired"), Entitlement{"senior", days_from_civil(2025, 1, 1), days_from_civil(2025, 12, 31)});
  Taps t(p);
  t.bus("grandma", "2026-03-03T10:00:00+01:00", "bus-a");
  t.bus("pupil", "2026-03-03T10:00:00+01:00", "bus-a");  // no student price: adult fare
  t.bus("expired", "2026-03-03T10:00:00+01:00", "bus-a");
  t.add("adult-card", "2026-03-03T10:00:00+01:00", "bus-a", TapRole::kOnboard, "b7", "senior");  // per-tap override
  t.add("grandma", "2026-03-03T12:00:00+01:00", "bus-b", TapRole::kOnboard, "b7", "adult");      // override wins
  const auto r = price(p, t.all(), {}, registry);
  check_books(r);
  CHECK(charges(r, day_of(r, "grandma", "2026-03-03")) == std::vector<std::int64_t>{75, 150});
  CHECK(day_of(r, "pupil", "2026-03-03").total == 150);
  CHECK(day_of(r, "expired", "2026-03-03").total == 150);
  CHECK(day_of(r, "adult-card", "2026-03-03").total == 75);
  CHECK(r.legs_of(day_of(r, "grandma", "2026-03-03"))[0].rider_category == p.rider_category_index("senior"));
}

TEST_CASE("a fare product's price follows the fare medium used", "[fares][rules][media]") {
  Files f = base_feed();
  f["fare_products.txt"] =
      "fare_product_id,rider_category_id,fare_media_id,amount,currency\n"
      "metro_z1,,cemv,1.90,EUR\n"
      "metro_z1,,paper,2.40,EUR\n"
      "metro_z12,,,3.50,EUR\n"
      "bus,,paper,1.50,EUR\n"
      "free,,,0,EUR\n";
  const FarePolicy p = load(f);
  Taps t(p);
  t.entry("contactless", "2026-03-03T10:00:00+01:00", "central-gate").exit("contactless", "2026-03-03T10:20:00+01:00", "north-gate");
  t.entry("ticket", "2026-03-03T10:00:00+01:00", "central-gate").exit("ticket", "2026-03-03T10:20:00+01:00", "north-gate");
  t.all()[2].fare_media = t.all()[3].fare_media = p.fare_media_index("paper");
  // Bus is sold on paper only: a contactless rider's bus leg has no product -> unknown fare.
  t.bus("contactless-bus", "2026-03-03T10:00:00+01:00", "bus-a");
  const auto r = price(p, t.all());  // default medium: the feed's only cEMV medium
  CHECK(day_of(r, "contactless", "2026-03-03").total == 190);
  CHECK(day_of(r, "ticket", "2026-03-03").total == 240);
  CHECK(day_of(r, "contactless-bus", "2026-03-03").unpriced_legs == 1);
}

TEST_CASE("a leg that no rule matches is reported unpriced and charged nothing", "[fares][rules]") {
  Files f = base_feed();
  f["fare_leg_rules.txt"] = "leg_group_id,network_id,from_area_id,to_area_id,fare_product_id,rule_priority\nmetro,metro,zone1,zone1,metro_z1,0\n";
  const FarePolicy p = load(f);
  Taps t(p);
  t.entry("a", "2026-03-03T10:00:00+01:00", "central-gate").exit("a", "2026-03-03T10:20:00+01:00", "airport-gate");
  const auto r = price(p, t.all());
  const auto& d = day_of(r, "a", "2026-03-03");
  CHECK(d.unpriced_legs == 1);
  CHECK(d.total == 0);
  CHECK_FALSE(r.legs_of(d)[0].priced);
  CHECK(r.legs_of(d)[0].fare_product == kNone);
}

TEST_CASE("fare_leg_join_rules merge an out-of-station interchange into one effective fare leg", "[fares][rules][join]") {
  Files f = base_feed();
  f["fare_leg_join_rules.txt"] = "from_network_id,to_network_id,from_stop_id,to_stop_id\nmetro,metro,,\n";
  const FarePolicy p = load(f);
  Taps t(p);
  // central -> north, out of the gates, back in at north, north -> airport: one leg
  // central -> airport (3.50), not 2.00 + 3.50.
  t.entry("a", "2026-03-03T10:00:00+01:00", "central-gate").exit("a", "2026-03-03T10:10:00+01:00", "north-gate");
  t.entry("a", "2026-03-03T10:15:00+01:00", "north-gate").exit("a", "2026-03-03T10:40:00+01:00", "airport-gate");
  // Without the join (bus in between) the two metro legs stay apart.
  t.entry("b", "2026-03-03T10:00:00+01:00", "central-gate").exit("b", "2026-03-03T10:10:00+01:00", "north-gate");
  t.bus("b", "2026-03-03T10:12:00+01:00", "bus-a");
  t.entry("b", "2026-03-03T10:30:00+01:00", "north-gate").exit("b", "2026-03-03T10:40:00+01:00", "airport-gate");
  const auto r = price(p, t.all());
  check_books(r);
  const auto& a = day_of(r, "a", "2026-03-03");
  REQUIRE(a.leg_count == 1);
  const auto& leg = r.legs_of(a)[0];
  CHECK(leg.joined_legs == 2);
  CHECK(leg.from_stop == p.stop_index("central-gate"));
  CHECK(leg.to_stop == p.stop_index("airport-gate"));
  CHECK(a.total == 350);
  CHECK(day_of(r, "b", "2026-03-03").total == 200 + 150 + 350);

  // A join rule naming the stops joins only there.
  f["fare_leg_join_rules.txt"] = "from_network_id,to_network_id,from_stop_id,to_stop_id\nmetro,metro,airport,airport\n";
  const FarePolicy q = load(f);
  const auto r2 = price(q, t.all());
  CHECK(day_of(r2, "a", "2026-03-03").leg_count == 2);
}
