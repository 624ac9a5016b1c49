// faregate-fares: the tap file reader and the JSON lines it prints.
#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>

#include "backoffice/fares/fare_engine.h"
#include "backoffice/fares/gtfs_fares_loader.h"
#include "tools/fares/quote_json.h"
#include "tools/fares/tap_csv.h"

using namespace faregate::fares;
using namespace faregate::fares::cli;

namespace {

FarePolicy small_feed() {
  std::map<std::string, std::string> f;
  f["agency.txt"] = "agency_id,agency_name,agency_url,agency_timezone\nx,X,https://x.example,Europe/London\n";
  f["stops.txt"] = "stop_id,stop_name\nbank,Bank\nbrixton,Brixton\nbus-1,Bus stop 1\n";
  f["routes.txt"] = "route_id,route_type,network_id\nvic,1,tube\n159,3,bus\n";
  f["trips.txt"] = "route_id,service_id,trip_id\nvic,all,v1\n159,all,b1\n";
  f["stop_times.txt"] = "trip_id,stop_id,stop_sequence\nv1,bank,1\nv1,brixton,2\nb1,bus-1,1\n";
  f["areas.txt"] = "area_id\nz1\nz2\n";
  f["stop_areas.txt"] = "area_id,stop_id\nz1,bank\nz2,brixton\n";
  f["rider_categories.txt"] = "rider_category_id,rider_category_name,is_default_fare_category\nadult,Adult,1\nchild,Child,0\n";
  f["fare_products.txt"] =
      "fare_product_id,rider_category_id,amount,currency\n"
      "tube_z1,,2.80,GBP\ntube_z12,,3.50,GBP\nhopper,,1.75,GBP\nhopper,child,0.00,GBP\nfree,,0,GBP\n";
  f["fare_leg_rules.txt"] =
      "leg_group_id,network_id,from_area_id,to_area_id,fare_product_id,rule_priority\n"
      "tube,tube,z1,z1,tube_z1,1\ntube,tube,,,tube_z12,0\nbus,bus,,,hopper,0\n";
  f["fare_transfer_rules.txt"] =
      "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id\n"
      "bus,bus,-1,3600,1,0,free\n";
  f["faregate_fare_caps.txt"] = "cap_id,cap_period,max_amount,currency\ndaily,0,8.90,GBP\n";
  auto p = load_gtfs_fares(FeedSource::in_memory(f));
  if (!p) FAIL(p.error().message);
  return std::move(*p);
}

std::string parse_error(const std::string& csv, const FarePolicy& p) {
  auto r = parse_tap_csv(csv, "taps.csv", p);
  return r ? "(parsed)" : r.error().message;
}

}  // namespace

TEST_CASE("the tap file reader names the line and the problem", "[fares][cli]") {
  const FarePolicy p = small_feed();
  const std::string header = "card,time,stop_id,role,route_id,rider_category\n";
  CHECK(parse_error("card,time,stop_id,role\n", p) ==
        "taps.csv:1: missing column route_id (header must name card,time,stop_id,role,route_id,rider_category)");
  CHECK(parse_error(header + "a,2026-03-02T08:00:00Z,bank,in,,\n", p) == "taps.csv:2: role 'in' is not entry, exit or onboard");
  CHECK(parse_error(header + "a,2026-03-02T08:00:00Z,bank,entry,,\nb,2026-03-02 08:00,bank,entry,,\n", p).starts_with(
      "taps.csv:3: time '2026-03-02 08:00' is not ISO 8601 with an offset"));
  CHECK(parse_error(header + "a,2026-03-02T08:00:00Z,bank,entry,,pensioner\n", p) ==
        "taps.csv:2: rider_category 'pensioner' is not in rider_categories.txt");
  CHECK(parse_error(header + ",2026-03-02T08:00:00Z,bank,entry,,\n", p) == "taps.csv:2: card is empty");
  CHECK(parse_error(header + "a,2026-03-02T08:00:00Z,,entry,,\n", p) == "taps.csv:2: stop_id is empty");
  CHECK(parse_error(header + "a,2026-03-02T08:00:00Z,bank,entry,,,extra\n", p) ==
        "taps.csv:2: record has 7 fields but the header has 6");
  // An unknown stop is not an input error: the tap is priced as an orphan.
  auto ok = parse_tap_csv(header + "a,2026-03-02T08:00:00Z,atlantis,entry,,\n", "taps.csv", p);
  REQUIRE(ok);
  CHECK(ok->taps[0].stop == kUnknown);
}

TEST_CASE("quote output has one object per card and service day with the documented fields", "[fares][cli]") {
  const FarePolicy p = small_feed();
  const std::string csv =
      "card,time,stop_id,role,route_id,rider_category\n"
      "alice,2026-03-02T08:00:00Z,bank,entry,,\n"
      "alice,2026-03-02T08:25:00Z,brixton,exit,,\n"
      "alice,2026-03-02T08:40:00Z,bus-1,onboard,159,\n"
      "alice,2026-03-02T09:10:00Z,bus-1,onboard,159,\n"
      "alice,2026-03-02T18:00:00Z,brixton,entry,,\n"
      "alice,2026-03-02T18:30:00Z,bank,exit,,\n"
      "bob,2026-03-02T10:00:00Z,bus-1,onboard,159,child\n"
      "alice,2026-03-03T08:00:00Z,bank,entry,,\n"
      "alice,2026-03-03T08:10:00Z,bank,exit,,\n";
  auto taps = parse_tap_csv(csv, "taps.csv", p);
  REQUIRE(taps);
  // The tube legs have no route: stop_times.txt tells that only the tube calls at the stations.
  FareEngine engine(p);
  const auto result = engine.price(taps->taps, EntitlementRegistry{});
  const auto objects = quote_objects(result, p, *taps);
  REQUIRE(objects.size() == 3);
  const auto& a = objects[0];
  CHECK(a.at("card") == "alice");
  CHECK(a.at("service_day") == "2026-03-02");
  REQUIRE(a.at("legs").size() == 4);
  CHECK(a.at("legs").at(0).at("from_stop") == "bank");
  CHECK(a.at("legs").at(0).at("to_stop") == "brixton");
  CHECK(a.at("legs").at(0).at("fare_product") == "tube_z12");
  CHECK(a.at("legs").at(0).at("amount") == 350);
  CHECK(a.at("legs").at(1).at("to_stop").is_null());
  CHECK(a.at("legs").at(2).at("charged") == 0);  // the Hopper: a free bus transfer
  // 3.50 + 1.75 + 1.75 + 3.50 = 10.50, less the free bus transfer (1.75): 8.75, under the cap.
  CHECK(a.at("transfer_discount") == 175);
  CHECK(a.at("cap_discount") == 0);
  CHECK(a.at("total") == 875);
  CHECK(a.at("currency") == "GBP");
  // Field order as documented.
  std::vector<std::string> keys;
  for (const auto& [k, v] : a.items()) keys.push_back(k);
  REQUIRE(keys.size() >= 7);
  CHECK(std::vector<std::string>(keys.begin(), keys.begin() + 7) ==
        std::vector<std::string>{"card", "service_day", "legs", "transfer_discount", "cap_discount", "total", "currency"});
  CHECK(objects[1].at("card") == "alice");
  CHECK(objects[1].at("service_day") == "2026-03-03");
  CHECK(objects[1].at("total") == 280);
  CHECK(objects[2].at("card") == "bob");
  CHECK(objects[2].at("total") == 0);  // child category from the file: free Hopper

  std::ostringstream out;
  write_quote_lines(result, p, *taps, out);
  const std::string text = out.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);
}

TEST_CASE("entitlements file registers concessions by card with validity dates", "[fares][cli][concessions]") {
  const FarePolicy p = small_feed();
  EntitlementRegistry registry;
  REQUIRE(parse_entitlements_csv("card,rider_category,valid_from,valid_until\nbob,child,2026-01-01,2026-12-31\n", "e.csv", p,
                                 registry));
  CHECK(registry.category_for(*CardToken::from_bytes(faregate::as_bytes("bob")), days_from_civil(2026, 3, 2)) == "child");
  CHECK(registry.category_for(*CardToken::from_bytes(faregate::as_bytes("bob")), days_from_civil(2027, 3, 2)).empty());
  auto bad = parse_entitlements_csv("card,rider_category\nbob,wizard\n", "e.csv", p, registry);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "e.csv:2: rider_category 'wizard' is not in rider_categories.txt");
}
