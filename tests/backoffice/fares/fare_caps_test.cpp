// Faregate's capping extension (docs/fare_capping.md): daily, Monday-Sunday week, rolling
// window, ride count; per rider category and fare medium; maximum fares never count.
#include "tests/backoffice/fares/fares_test_support.h"

using namespace faregate::fares;
using namespace faregate::fares::testing;

namespace {

const char* kCapHeader =
    "cap_id,cap_period,rolling_days,max_amount,currency,max_paid_rides,rider_category_id,fare_media_id,network_id\n";

FarePolicy with_caps(const std::string& caps, const std::string& transfers = "") {
  Files f = base_feed();
  f["faregate_fare_caps.txt"] = std::string(kCapHeader) + caps;
  if (!transfers.empty()) {
    f["fare_transfer_rules.txt"] =
        "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,"
        "fare_product_id\n" +
        transfers;
  }
  return load(f);
}

// `n` bus rides on `date` (YYYY-MM-DD), an hour apart from 07:00 local (winter time).
void rides(Taps& t, std::string_view who, const std::string& date, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string iso = date + "T" + (7 + i < 10 ? "0" : "") + std::to_string(7 + i) + ":00:00+01:00";
    t.bus(who, iso.c_str(), i % 2 ? "bus-b" : "bus-a");
  }
}

}  // namespace

TEST_CASE("a daily cap stops charging within a service day and resets at the cut", "[fares][caps]") {
  const FarePolicy p = with_caps("daily,0,,4.00,EUR,,,,\n");
  Taps t(p);
  rides(t, "a", "2026-03-03", 4);
  t.bus("a", "2026-03-04T02:00:00+01:00", "bus-c");  // still service day 3 March
  t.bus("a", "2026-03-04T08:00:00+01:00", "bus-c");  // new service day
  const auto r = price(p, t.all());
  check_books(r);
  const auto& d = day_of(r, "a", "2026-03-03");
  CHECK(charges(r, d) == std::vector<std::int64_t>{150, 150, 100, 0, 0});
  CHECK(d.cap_discount == 50 + 150 + 150);
  CHECK(d.total == 400);
  REQUIRE(d.cap_count == 1);
  CHECK(r.caps_of(d)[0].discount == 350);
  CHECK(p.cap_ids.name(p.caps[r.caps_of(d)[0].cap].cap_id) == "daily");
  CHECK(day_of(r, "a", "2026-03-04").total == 150);
}

TEST_CASE("a weekly cap runs Monday to Sunday and combines with a daily cap", "[fares][caps]") {
  const FarePolicy p = with_caps("daily,0,,4.00,EUR,,,,\nweekly,1,,10.00,EUR,,,,\n");
  Taps t(p);
  // Sunday 1 March, then Monday 2 to Monday 9 March, three rides a day (4.50 uncapped).
  for (int day = 1; day <= 9; ++day) rides(t, "a", "2026-03-0" + std::to_string(day), 3);
  const auto r = price(p, t.all());
  check_books(r);
  // Sunday 1 March closes the previous week: 4.00. Week of 2 March: 4 + 4 + 2, then free.
  // Monday 9 March opens a new week.
  const std::int64_t expected[] = {400, 400, 400, 200, 0, 0, 0, 0, 400};
  for (int day = 1; day <= 9; ++day) {
    const std::string date = "2026-03-0" + std::to_string(day);
    INFO(date);
    CHECK(day_of(r, "a", date.c_str()).total == expected[day - 1]);
  }
}

TEST_CASE("a rolling ride-count cap makes rides free after N paid rides until the window ends", "[fares][caps]") {
  // OMNY-style: 12 paid rides within 7 days of the first, then free for the rest of the window.
  const FarePolicy p = with_caps("rides,2,7,,,12,,,\n");
  Taps t(p);
  // Wednesday 4 March 10:00 first ride; 5 rides a day for 3 days = 15 rides.
  rides(t, "a", "2026-03-04", 5);
  rides(t, "a", "2026-03-05", 5);
  rides(t, "a", "2026-03-06", 5);
  // The window opened 4 March 07:00 and ends 7 days later, 11 March 07:00.
  t.bus("a", "2026-03-10T08:00:00+01:00", "bus-a");  // inside the window: free
  t.bus("a", "2026-03-11T07:00:00+01:00", "bus-a");  // window over: paid, new window
  const auto r = price(p, t.all());
  check_books(r);
  CHECK(day_of(r, "a", "2026-03-04").total == 5 * 150);
  CHECK(day_of(r, "a", "2026-03-05").total == 5 * 150);
  CHECK(charges(r, day_of(r, "a", "2026-03-06")) == std::vector<std::int64_t>{150, 150, 0, 0, 0});
  CHECK(day_of(r, "a", "2026-03-10").total == 0);
  CHECK(day_of(r, "a", "2026-03-11").total == 150);
}

TEST_CASE("free transfers are not paid rides for a ride-count cap", "[fares][caps][transfers]") {
  const FarePolicy p = with_caps("rides,0,,,,2,,,\n", "bus,bus,1,,,0,free\n");
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a");
  t.bus("a", "2026-03-03T08:10:00+01:00", "bus-b");  // free transfer, not counted
  t.bus("a", "2026-03-03T12:00:00+01:00", "bus-c");  // second paid ride (transfer count used up)
  t.entry("a", "2026-03-03T18:00:00+01:00", "central-gate").exit("a", "2026-03-03T18:10:00+01:00", "north-gate");
  const auto r = price(p, t.all());
  check_books(r);
  const auto& d = day_of(r, "a", "2026-03-03");
  CHECK(charges(r, d) == std::vector<std::int64_t>{150, 0, 150, 0});
  CHECK(d.transfer_discount == 150);
  CHECK(d.cap_discount == 200);
}

TEST_CASE("caps apply per rider category and per fare medium", "[fares][caps][concessions]") {
  const FarePolicy p = with_caps(
      "adult_daily,0,,4.00,EUR,,adult,,\n"
      "senior_daily,0,,1.50,EUR,,senior,,\n"
      "contactless_only,0,,3.50,EUR,,,cemv,\n");
  EntitlementRegistry registry;
  registry.add(card("senior"), Entitlement{"senior"});
  Taps t(p);
  rides(t, "adult", "2026-03-03", 4);   // 1.50 x 4 = 6.00: contactless cap 3.50 binds first
  rides(t, "senior", "2026-03-03", 4);  // 0.75 x 4 = 3.00: senior cap 1.50
  rides(t, "paper", "2026-03-03", 4);   // paper: only the adult cap 4.00
  for (auto& tap : t.all()) {
    if (tap.card == card("paper")) tap.fare_media = p.fare_media_index("paper");
  }
  const auto r = price(p, t.all(), {}, registry);
  check_books(r);
  CHECK(day_of(r, "adult", "2026-03-03").total == 350);
  CHECK(day_of(r, "senior", "2026-03-03").total == 150);
  CHECK(day_of(r, "paper", "2026-03-03").total == 400);
}

TEST_CASE("a network-specific cap counts only that network's legs", "[fares][caps]") {
  const FarePolicy p = with_caps("bus_daily,0,,2.00,EUR,,,,bus\n");
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a");
  t.entry("a", "2026-03-03T09:00:00+01:00", "central-gate").exit("a", "2026-03-03T09:10:00+01:00", "north-gate");
  t.bus("a", "2026-03-03T10:00:00+01:00", "bus-b");
  const auto r = price(p, t.all());
  CHECK(charges(r, day_of(r, "a", "2026-03-03")) == std::vector<std::int64_t>{150, 200, 50});
}

TEST_CASE("maximum fares for incomplete journeys are neither capped nor counted toward a cap", "[fares][caps][missing-taps]") {
  const FarePolicy p = with_caps("daily,0,,4.00,EUR,,,,\n");
  Taps t(p);
  t.exit("a", "2026-03-03T06:00:00+01:00", "airport-gate");  // no tap-in: maximum fare to airport
  t.bus("a", "2026-03-03T07:00:00+01:00", "bus-a");
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-b");
  t.bus("a", "2026-03-03T09:00:00+01:00", "bus-c");
  t.entry("a", "2026-03-03T10:00:00+01:00", "central-gate");  // never taps out, no later tap
  const auto r = price(p, t.all());
  check_books(r);
  const auto& d = day_of(r, "a", "2026-03-03");
  // The two maximum fares (3.50 each) are charged in full and leave the cap's 4.00 to the
  // bus rides: 1.50 + 1.50 + 1.00.
  CHECK(charges(r, d) == std::vector<std::int64_t>{350, 150, 150, 100, 350});
  CHECK(d.maximum_fare_legs == 2);
  CHECK(d.cap_discount == 50);
}

TEST_CASE("an auto-completed journey is a real journey: it is capped and counts", "[fares][caps][missing-taps]") {
  const FarePolicy p = with_caps("daily,0,,4.00,EUR,,,,\n");
  Taps t(p);
  t.bus("a", "2026-03-03T07:00:00+01:00", "bus-a");
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-b");
  t.entry("a", "2026-03-03T09:00:00+01:00", "central-gate");  // no tap-out...
  t.bus("a", "2026-03-03T20:00:00+01:00", "bus-c");           // ...but the rider was out by 20:00
  const auto r = price(p, t.all());
  check_books(r);
  const auto& d = day_of(r, "a", "2026-03-03");
  const auto legs = r.legs_of(d);
  REQUIRE(legs.size() == 4);
  CHECK(legs[2].kind == LegKind::kAutoCompletedTapOut);
  CHECK(legs[2].to_stop == p.stop_index("bus-c"));
  CHECK(d.maximum_fare_legs == 0);
  // central -> bus zone is 3.50 on the metro, capped to the 1.00 left; the last bus is free.
  CHECK(charges(r, d) == std::vector<std::int64_t>{150, 150, 100, 0});
}

TEST_CASE("a rider whose category has no fare of its own pays the default fare under the default rider's caps", "[fares][caps][concessions]") {
  Files f = base_feed();
  // Bus fares for adults and seniors only: a student has no bus fare of their own.
  f["fare_products.txt"] =
      "fare_product_id,rider_category_id,amount,currency\n"
      "metro_z1,,2.00,EUR\nmetro_z12,,3.50,EUR\nbus,adult,1.50,EUR\nbus,senior,0.75,EUR\nfree,,0,EUR\n";
  f["faregate_fare_caps.txt"] = std::string(kCapHeader) + "adult_daily,0,,3.00,EUR,,adult,,\n";
  const FarePolicy p = load(f);
  EntitlementRegistry registry;
  registry.add(card("pupil"), Entitlement{"student"});
  Taps t(p);
  rides(t, "pupil", "2026-03-03", 3);
  const auto r = price(p, t.all(), {}, registry);
  check_books(r);
  CHECK(charges(r, day_of(r, "pupil", "2026-03-03")) == std::vector<std::int64_t>{150, 150, 0});
  CHECK(r.legs_of(day_of(r, "pupil", "2026-03-03"))[0].default_category_fare);
  CHECK(r.legs_of(day_of(r, "pupil", "2026-03-03"))[0].rider_category == p.rider_category_index("student"));
}
