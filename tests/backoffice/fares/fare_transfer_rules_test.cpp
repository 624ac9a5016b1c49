// fare_transfer_rules.txt: the three fare_transfer_types, one direction only, transfer_count
// selection, the four duration_limit_types, and no transfer across service days.
#include "tests/backoffice/fares/fares_test_support.h"

using namespace faregate::fares;
using namespace faregate::fares::testing;

namespace {

const char* kHeader =
    "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id\n";

FarePolicy with_transfers(const std::string& rules, const std::string& extra_products = "") {
  Files f = base_feed();
  f["fare_transfer_rules.txt"] = std::string(kHeader) + rules;
  f["fare_products.txt"] += extra_products;
  return load(f);
}

}  // namespace

TEST_CASE("fare_transfer_type 0 charges A + AB: the to-leg is covered by the transfer product", "[fares][transfers]") {
  const FarePolicy p = with_transfers("bus,bus,-1,5400,1,0,bus_transfer\n", "bus_transfer,Bus transfer,,,0.25,EUR\n");
  Taps t(p);
  t.bus("a", "2026-03-03T10:00:00+01:00", "bus-a").bus("a", "2026-03-03T10:30:00+01:00", "bus-b", "b8");
  const auto r = price(p, t.all());
  check_books(r);
  const auto& d = day_of(r, "a", "2026-03-03");
  CHECK(charges(r, d) == std::vector<std::int64_t>{150, 25});
  CHECK(d.fare_total == 300);
  CHECK(d.transfer_discount == 125);
  CHECK(d.total == 175);
  CHECK(r.legs_of(d)[1].transfer_rule == 0);
}

TEST_CASE("fare_transfer_type 1 charges A + AB + B: a negative AB is a discount on B", "[fares][transfers]") {
  const FarePolicy p = with_transfers("metro,bus,,3600,2,1,bus_discount\n", "bus_discount,Bus discount,,,-0.50,EUR\n");
  Taps t(p);
  t.entry("a", "2026-03-03T10:00:00+01:00", "central-gate").exit("a", "2026-03-03T10:15:00+01:00", "north-gate");
  t.bus("a", "2026-03-03T10:25:00+01:00", "bus-a");
  const auto r = price(p, t.all());
  check_books(r);
  const auto& d = day_of(r, "a", "2026-03-03");
  CHECK(charges(r, d) == std::vector<std::int64_t>{200, 100});
  CHECK(d.transfer_discount == 50);
}

TEST_CASE("fare_transfer_type 2 charges AB instead of A + B, then S + BC", "[fares][transfers]") {
  const FarePolicy p = with_transfers(
      "metro,bus,,3600,1,2,combo\n"
      "bus,bus,-1,3600,1,2,bus_transfer\n",
      "combo,Metro and bus,,,3.00,EUR\nbus_transfer,Bus transfer,,,0.40,EUR\n");
  Taps t(p);
  t.entry("a", "2026-03-03T10:00:00+01:00", "central-gate").exit("a", "2026-03-03T10:20:00+01:00", "airport-gate");
  t.bus("a", "2026-03-03T10:30:00+01:00", "bus-a");
  t.bus("a", "2026-03-03T10:45:00+01:00", "bus-b", "b8");
  const auto r = price(p, t.all());
  check_books(r);
  const auto& d = day_of(r, "a", "2026-03-03");
  // A = 3.50 (zone1 -> zone2). AB = 3.00 replaces A + B: B is charged 3.00 - 3.50 = -0.50.
  // Then S + BC: C costs the bus transfer product, 0.40.
  CHECK(charges(r, d) == std::vector<std::int64_t>{350, -50, 40});
  CHECK(d.total == 340);
  CHECK(d.fare_total == 350 + 150 + 150);
}

TEST_CASE("a transfer rule applies in its own direction only", "[fares][transfers]") {
  const FarePolicy p = with_transfers("bus,metro,,3600,1,0,free\n");
  Taps t(p);
  t.bus("bus-first", "2026-03-03T10:00:00+01:00", "bus-a");
  t.entry("bus-first", "2026-03-03T10:20:00+01:00", "central-gate").exit("bus-first", "2026-03-03T10:30:00+01:00", "north-gate");
  t.entry("metro-first", "2026-03-03T10:00:00+01:00", "central-gate").exit("metro-first", "2026-03-03T10:10:00+01:00", "north-gate");
  t.bus("metro-first", "2026-03-03T10:20:00+01:00", "bus-a");
  const auto r = price(p, t.all());
  CHECK(charges(r, day_of(r, "bus-first", "2026-03-03")) == std::vector<std::int64_t>{150, 0});
  CHECK(charges(r, day_of(r, "metro-first", "2026-03-03")) == std::vector<std::int64_t>{200, 150});
}

TEST_CASE("transfer_count limits how many consecutive transfers a rule covers", "[fares][transfers]") {
  auto bus_day = [](const FarePolicy& p) {
    Taps t(p);
    t.bus("a", "2026-03-03T10:00:00+01:00", "bus-a");
    t.bus("a", "2026-03-03T10:10:00+01:00", "bus-b", "b8");
    t.bus("a", "2026-03-03T10:20:00+01:00", "bus-c");
    t.bus("a", "2026-03-03T10:30:00+01:00", "bus-a", "b8");
    const auto r = price(p, t.all());
    check_books(r);
    return charges(r, day_of(r, "a", "2026-03-03"));
  };
  CHECK(bus_day(with_transfers("bus,bus,1,,,0,free\n")) == std::vector<std::int64_t>{150, 0, 150, 0});
  CHECK(bus_day(with_transfers("bus,bus,2,,,0,free\n")) == std::vector<std::int64_t>{150, 0, 0, 150});
  CHECK(bus_day(with_transfers("bus,bus,-1,,,0,free\n")) == std::vector<std::int64_t>{150, 0, 0, 0});
  // Several counts: the smallest transfer_count that still covers the transfer is selected
  // (the first transfer is free under count 1, later ones cost 0.30 under "no limit").
  CHECK(bus_day(with_transfers("bus,bus,1,,,0,free\nbus,bus,-1,,,0,bus_later\n", "bus_later,Later,,,0.30,EUR\n")) ==
        std::vector<std::int64_t>{150, 0, 30, 30});
}

TEST_CASE("duration_limit_type picks which validations the limit is measured between", "[fares][transfers]") {
  // Leg 1: 08:00 -> 08:30; leg 2: 08:50 -> 09:40. Limit 60 minutes.
  //   type 0: departure 1 -> arrival 2   = 100 min: no transfer
  //   type 1: departure 1 -> departure 2 =  50 min: transfer
  //   type 2: arrival 1   -> departure 2 =  20 min: transfer
  //   type 3: arrival 1   -> arrival 2   =  70 min: no transfer
  const std::pair<int, std::vector<std::int64_t>> expected[] = {
      {0, {200, 350}}, {1, {200, 0}}, {2, {200, 0}}, {3, {200, 350}}};
  for (const auto& [type, want] : expected) {
    const FarePolicy p = with_transfers("metro,metro,-1,3600," + std::to_string(type) + ",0,free\n");
    Taps t(p);
    t.entry("a", "2026-03-03T08:00:00+01:00", "central-gate").exit("a", "2026-03-03T08:30:00+01:00", "north-gate");
    t.entry("a", "2026-03-03T08:50:00+01:00", "north-gate").exit("a", "2026-03-03T09:40:00+01:00", "airport-gate");
    const auto r = price(p, t.all());
    INFO("duration_limit_type " << type);
    CHECK(charges(r, day_of(r, "a", "2026-03-03")) == want);
  }
}

TEST_CASE("a duration limit is measured from the first leg of consecutive matches of the same rule", "[fares][transfers]") {
  const FarePolicy p = with_transfers("bus,bus,-1,3600,1,0,free\n");
  Taps t(p);
  t.bus("a", "2026-03-03T10:00:00+01:00", "bus-a");
  t.bus("a", "2026-03-03T10:40:00+01:00", "bus-b", "b8");  // 40 min after the first: free
  t.bus("a", "2026-03-03T11:10:00+01:00", "bus-c");        // 70 min after the first: full fare
  t.bus("a", "2026-03-03T11:30:00+01:00", "bus-a", "b8");  // a new sub-journey began at 11:10
  const auto r = price(p, t.all());
  CHECK(charges(r, day_of(r, "a", "2026-03-03")) == std::vector<std::int64_t>{150, 0, 150, 0});
}

TEST_CASE("an empty leg group in a transfer rule means every group the file does not list", "[fares][transfers]") {
  Files f = base_feed();
  f["routes.txt"] += "t1,T1,0,tram\n";
  f["fare_products.txt"] += "tram,Tram,,,1.10,EUR\n";
  f["fare_leg_rules.txt"] += "tram,tram,,,tram,0\n";
  // bus -> bus is listed explicitly (costs 0.60); anything -> bus not listed as a from group
  // (metro, tram) is free.
  f["fare_transfer_rules.txt"] = std::string(kHeader) + "bus,bus,-1,,,0,bus_again\n,bus,,,,0,free\n";
  f["fare_products.txt"] += "bus_again,Bus again,,,0.60,EUR\n";
  const FarePolicy p = load(f);
  Taps t(p);
  t.bus("from-tram", "2026-03-03T10:00:00+01:00", "bus-a", "t1").bus("from-tram", "2026-03-03T10:10:00+01:00", "bus-b");
  t.bus("from-bus", "2026-03-03T10:00:00+01:00", "bus-a", "b8").bus("from-bus", "2026-03-03T10:10:00+01:00", "bus-b");
  const auto r = price(p, t.all());
  CHECK(charges(r, day_of(r, "from-tram", "2026-03-03")) == std::vector<std::int64_t>{110, 0});
  CHECK(charges(r, day_of(r, "from-bus", "2026-03-03")) == std::vector<std::int64_t>{150, 60});
}

TEST_CASE("transfers never reach across the service day cut", "[fares][transfers]") {
  const FarePolicy p = with_transfers("bus,bus,-1,,,0,free\n");
  Taps t(p);
  t.bus("a", "2026-03-04T04:20:00+01:00", "bus-a");  // service day 3 March
  t.bus("a", "2026-03-04T04:40:00+01:00", "bus-b");  // service day 4 March
  const auto r = price(p, t.all());
  CHECK(day_of(r, "a", "2026-03-03").total == 150);
  CHECK(day_of(r, "a", "2026-03-04").total == 150);
}

TEST_CASE("a transfer whose product the rider's category cannot buy does not apply", "[fares][transfers][concessions]") {
  const FarePolicy p = with_transfers("bus,bus,-1,,,0,senior_transfer\n", "senior_transfer,Senior transfer,senior,,0.00,EUR\n");
  EntitlementRegistry registry;
  registry.add(card("senior"), Entitlement{"senior"});
  Taps t(p);
  t.bus("senior", "2026-03-03T10:00:00+01:00", "bus-a").bus("senior", "2026-03-03T10:10:00+01:00", "bus-b");
  t.bus("adult", "2026-03-03T10:00:00+01:00", "bus-a").bus("adult", "2026-03-03T10:10:00+01:00", "bus-b");
  const auto r = price(p, t.all(), {}, registry);
  CHECK(charges(r, day_of(r, "senior", "2026-03-03")) == std::vector<std::int64_t>{75, 0});
  CHECK(charges(r, day_of(r, "adult", "2026-03-03")) == std::vector<std::int64_t>{150, 150});
}
