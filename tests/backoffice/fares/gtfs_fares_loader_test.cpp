// The GTFS-Fares v2 loader: what it reads, what it refuses and how it says so.
#include "tests/backoffice/fares/fares_test_support.h"

using namespace faregate::fares;
using namespace faregate::fares::testing;

TEST_CASE("loader reads every fares v2 file of a feed into interned tables", "[fares][loader]") {
  Files f = base_feed();
  f["networks.txt"] = "network_id,network_name\nmetro,Metro\nbus,Buses\n";
  f["route_networks.txt"] = "network_id,route_id\nmetro,m1\nbus,b7\nbus,b8\n";
  f["routes.txt"] = "route_id,route_short_name,route_type\nm1,M1,1\nb7,7,3\nb8,8,3\n";
  f["timeframes.txt"] = "timeframe_group_id,start_time,end_time,service_id\npeak,07:00:00,09:30:00,weekdays\nallday,,,everyday\n";
  f["fare_leg_join_rules.txt"] = "from_network_id,to_network_id,from_stop_id,to_stop_id\nmetro,metro,,\n";
  f["fare_transfer_rules.txt"] =
      "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id\n"
      "bus,bus,1,5400,1,0,free\n"
      "metro,bus,,3600,2,0,free\n";
  f["faregate_fare_caps.txt"] =
      "cap_id,cap_period,max_amount,currency,max_paid_rides,rider_category_id,fare_media_id,network_id\n"
      "daily,0,7.00,EUR,,,,\n"
      "weekly_rides,2,,,12,,cemv,\n";
  const FarePolicy p = load(f);
  CHECK(p.time_zones[0].name() == "Europe/Paris");
  CHECK(p.currency.str() == "EUR");
  CHECK(p.stops.size() == 12);
  CHECK(p.network_ids.size() == 2);
  CHECK(p.routes[p.route_index("b8")].network == p.network_ids.find("bus"));
  CHECK(p.area_ids.size() == 3);
  CHECK(p.rider_categories.size() == 3);
  CHECK(p.default_rider_category == p.rider_category_index("adult"));
  CHECK(p.fare_media[p.fare_media_index("cemv")].type == 3);
  CHECK(p.fare_products_ids.size() == 4);
  CHECK(p.prices_of(p.fare_products_ids.find("metro_z1")).size() == 2);
  CHECK(p.leg_rules.size() == 3);
  CHECK(p.has_rule_priority);
  CHECK(p.leg_rules[0].priority == 1);
  CHECK(p.join_rules.size() == 1);
  CHECK(p.transfer_rules.size() == 2);
  CHECK(p.transfer_rules[0].transfer_count == 1);
  CHECK(p.transfer_rules[1].duration_limit_type == 2);
  CHECK(p.timeframes.size() == 2);
  CHECK(p.caps.size() == 2);
  CHECK(p.caps[0].max_amount == 700);
  CHECK(p.caps[1].max_paid_rides == 12);
  CHECK(p.caps[1].period == CapPeriod::kRolling);
  CHECK(p.caps[1].rolling_days == 7);
}

TEST_CASE("loader gives a platform and a gate the areas and networks of their station", "[fares][loader]") {
  const FarePolicy p = load(base_feed());
  const Index zone1 = p.area_ids.find("zone1");
  for (const char* stop : {"central", "central-gate", "central-p"}) {
    auto areas = p.areas_of(p.stop_index(stop));
    REQUIRE(areas.size() == 1);
    CHECK(areas[0] == zone1);
  }
  auto nets = p.networks_at(p.stop_index("central-gate"));
  REQUIRE(nets.size() == 1);
  CHECK(nets[0] == p.network_ids.find("metro"));
  CHECK(p.stops[p.stop_index("central-gate")].station == p.stop_index("central"));
}

TEST_CASE("loader ignores columns the specification does not define", "[fares][loader]") {
  Files f = base_feed();
  f["fare_leg_rules.txt"] =
      "leg_group_id,network_id,from_area_id,to_area_id,fare_product_id,rule_priority,as_route,fare_leg_name\n"
      "metro,metro,zone1,zone1,metro_z1,1,1,inner\n"
      "metro,metro,,,metro_z12,0,0,outer\n";
  f["fare_products.txt"] =
      "fare_product_id,fare_product_name,amount,currency,duration_start,duration_amount,duration_unit\n"
      "metro_z1,Metro zone 1,2.00,EUR,0,90,1\n"
      "metro_z12,Metro zones 1-2,3.50,EUR,0,90,1\n"
      "bus,Bus,1.50,EUR,,,\n"
      "free,Free,0,EUR,,,\n";
  const FarePolicy p = load(f);
  CHECK(p.leg_rules.size() == 2);
  CHECK(p.prices_of(p.fare_products_ids.find("metro_z12"))[0].amount == 350);
}

TEST_CASE("loader reads a byte order mark, CRLF line ends and quoted fields", "[fares][loader]") {
  Files f = base_feed();
  f["areas.txt"] = "\xEF\xBB\xBF" "area_id,area_name\r\nzone1,\"Zone 1, \"\"inner\"\"\"\r\nzone2,Zone 2\r\nbuszone,Buses\r\n";
  const FarePolicy p = load(f);
  CHECK(p.area_ids.size() == 3);
  CHECK(p.area_ids.find("zone2") != kNone);
}

TEST_CASE("loader refuses a reference to an undefined id with file, line and reason", "[fares][loader]") {
  struct Case {
    const char* file;
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"fare_leg_rules.txt", "network_id,from_area_id,fare_product_id\nmetro,zone1,metro_z1\nmetro,zone9,metro_z1\n",
       "fare_leg_rules.txt:3: from_area_id 'zone9' is not defined in areas.txt"},
      {"fare_leg_rules.txt", "network_id,fare_product_id\ntram,metro_z1\n",
       "fare_leg_rules.txt:2: network_id 'tram' is not defined in routes.txt or networks.txt"},
      {"fare_leg_rules.txt", "network_id,fare_product_id\nmetro,gold\n",
       "fare_leg_rules.txt:2: fare_product_id 'gold' is not defined in fare_products.txt"},
      {"fare_leg_rules.txt", "network_id,from_timeframe_group_id,fare_product_id\nmetro,peak,metro_z1\n",
       "fare_leg_rules.txt:2: from_timeframe_group_id 'peak' is not defined in timeframes.txt"},
      {"stop_areas.txt", "area_id,stop_id\nzone1,central\nzone1,nowhere\n",
       "stop_areas.txt:3: stop_id 'nowhere' is not defined in stops.txt"},
      {"fare_products.txt", "fare_product_id,rider_category_id,amount,currency\nbus,pensioner,1.00,EUR\n",
       "fare_products.txt:2: rider_category_id 'pensioner' is not defined in rider_categories.txt"},
      {"fare_products.txt", "fare_product_id,fare_media_id,amount,currency\nbus,oyster,1.00,EUR\n",
       "fare_products.txt:2: fare_media_id 'oyster' is not defined in fare_media.txt"},
      {"fare_transfer_rules.txt", "from_leg_group_id,to_leg_group_id,fare_transfer_type\nmetro,ferry,0\n",
       "fare_transfer_rules.txt:2: to_leg_group_id 'ferry' is not defined in fare_leg_rules.txt leg_group_id"},
      {"timeframes.txt", "timeframe_group_id,start_time,end_time,service_id\npeak,07:00:00,09:00:00,holidays\n",
       "timeframes.txt:2: service_id 'holidays' is not defined in calendar.txt or calendar_dates.txt"},
      {"fare_leg_join_rules.txt", "from_network_id,to_network_id,from_stop_id,to_stop_id\nmetro,metro,central,atlantis\n",
       "fare_leg_join_rules.txt:2: to_stop_id 'atlantis' is not defined in stops.txt"},
      {"faregate_fare_caps.txt", "cap_id,cap_period,max_amount,currency,fare_media_id\nd,0,5.00,EUR,oyster\n",
       "faregate_fare_caps.txt:2: fare_media_id 'oyster' is not defined in fare_media.txt"},
      {"stops.txt", "stop_id,parent_station\na,\nb,zz\n", "stops.txt:3: parent_station 'zz' is not defined in stops.txt"},
  };
  for (const auto& c : cases) {
    Files f = base_feed();
    f[c.file] = c.text;
    INFO(c.file << ": " << c.text);
    CHECK(load_error(f) == c.expected);
  }
}

TEST_CASE("loader refuses values and combinations the specification forbids", "[fares][loader]") {
  struct Case {
    const char* file;
    const char* text;
    const char* expected;
  };
  const char* transfer_header =
      "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id\n";
  const Case cases[] = {
      {"fare_transfer_rules.txt", "metro,bus,2,,,0,\n",
       "fare_transfer_rules.txt:2: transfer_count is forbidden when from_leg_group_id differs from to_leg_group_id"},
      {"fare_transfer_rules.txt", "bus,bus,,,,0,\n",
       "fare_transfer_rules.txt:2: transfer_count is required when from_leg_group_id equals to_leg_group_id"},
      {"fare_transfer_rules.txt", "bus,bus,0,,,0,\n",
       "fare_transfer_rules.txt:2: transfer_count '0' is not -1 or a positive integer"},
      {"fare_transfer_rules.txt", "metro,bus,,3600,,0,\n",
       "fare_transfer_rules.txt:2: duration_limit_type '' must be 0..3 when duration_limit is set"},
      {"fare_transfer_rules.txt", "metro,bus,,,1,0,\n",
       "fare_transfer_rules.txt:2: duration_limit_type is forbidden without duration_limit"},
      {"fare_transfer_rules.txt", "metro,bus,,,,3,\n", "fare_transfer_rules.txt:2: fare_transfer_type '3' is not 0, 1 or 2"},
  };
  for (const auto& c : cases) {
    Files f = base_feed();
    f[c.file] = std::string(transfer_header) + c.text;
    INFO(c.text);
    CHECK(load_error(f) == c.expected);
  }
  Files f = base_feed();
  f["fare_products.txt"] = "fare_product_id,amount,currency\nmetro_z1,2.00,EUR\nmetro_z12,3.50,USD\nbus,1,EUR\nfree,0,EUR\n";
  CHECK(load_error(f) == "fare_products.txt:3: currency USD differs from EUR used on line 2");
  f["fare_products.txt"] = "fare_product_id,amount,currency\nmetro_z1,2.005,EUR\n";
  CHECK(load_error(f) == "fare_products.txt:2: amount: amount '2.005' has more decimals than EUR allows (2)");
  f = base_feed();
  f["networks.txt"] = "network_id\nmetro\nbus\n";
  CHECK(load_error(f) == "routes.txt:2: network_id is set in routes.txt while networks.txt or route_networks.txt exists");
  f = base_feed();
  f["fare_leg_rules.txt"] = "leg_group_id,network_id,fare_product_id\nmetro,metro,metro_z1\n";
  f["fare_leg_join_rules.txt"] = "from_network_id,to_network_id\nmetro,bus\n";
  CHECK(load_error(f) == "fare_leg_join_rules.txt:2: from_network_id and to_network_id must be the same network");
  f = base_feed();
  f["timeframes.txt"] = "timeframe_group_id,start_time,end_time,service_id\npeak,07:00:00,,weekdays\n";
  CHECK(load_error(f) == "timeframes.txt:2: start_time and end_time must both be set or both be empty");
  f["timeframes.txt"] = "timeframe_group_id,start_time,end_time,service_id\npeak,07:00:00,25:00:00,weekdays\n";
  CHECK(load_error(f) == "timeframes.txt:2: end_time '25:00:00' is not a time up to 24:00:00");
  f = base_feed();
  f["fare_leg_rules.txt"] = "network_id,fare_product_id,rule_priority\nmetro,metro_z1,-1\n";
  CHECK(load_error(f) == "fare_leg_rules.txt:2: rule_priority '-1' is not a non-negative integer");
  f = base_feed();
  f["faregate_fare_caps.txt"] = "cap_id,cap_period,max_amount,currency,max_paid_rides\nd,0,5.00,EUR,10\n";
  CHECK(load_error(f) == "faregate_fare_caps.txt:2: exactly one of max_amount and max_paid_rides must be set");
  f["faregate_fare_caps.txt"] = "cap_id,cap_period,max_amount,currency\nd,3,5.00,EUR\n";
  CHECK(load_error(f) == "faregate_fare_caps.txt:2: cap_period '3' is not 0, 1 or 2");
  f["faregate_fare_caps.txt"] = "cap_id,cap_period,rolling_days,max_amount,currency\nd,0,7,5.00,EUR\n";
  CHECK(load_error(f) == "faregate_fare_caps.txt:2: rolling_days is only allowed with cap_period 2");
}

TEST_CASE("loader refuses malformed CSV and missing required columns with the line", "[fares][loader]") {
  Files f = base_feed();
  f["areas.txt"] = "area_id,area_name\nzone1,\"Zone 1\nzone2,Zone 2\n";
  CHECK(load_error(f) == "areas.txt:2: unterminated quoted field");
  f["areas.txt"] = "area_id,area_name\nzone1,Zone 1,extra\n";
  CHECK(load_error(f) == "areas.txt:2: record has 3 fields but the header has 2");
  f["areas.txt"] = "area_name\nZone 1\n";
  CHECK(load_error(f) == "areas.txt:1: missing required column area_id");
  f = base_feed();
  f["areas.txt"] = "area_id,area_name\nzone1,Zone 1\nzone1,Again\n";
  CHECK(load_error(f) == "areas.txt:3: duplicate area_id 'zone1'");
  f = base_feed();
  f.erase("agency.txt");
  CHECK(load_error(f) == "agency.txt: missing or without agency_timezone; a time zone is needed for service days");
  f = base_feed();
  f["agency.txt"] = "agency_id,agency_name,agency_url,agency_timezone\nx,X,https://x,Mars/Olympus\n";
  CHECK(load_error(f).starts_with("agency.txt: unknown time zone 'Mars/Olympus'"));
}

TEST_CASE("loader builds service dates from calendar.txt and calendar_dates.txt", "[fares][loader]") {
  Files f = base_feed();
  f["calendar_dates.txt"] =
      "service_id,date,exception_type\n"
      "weekdays,20260302,2\n"   // a Monday off
      "weekdays,20260307,1\n"   // a Saturday on
      "special,20260314,1\n";   // a service known only from calendar_dates.txt
  const FarePolicy p = load(f);
  const Service& weekdays = p.service_dates[p.services.find("weekdays")];
  CHECK_FALSE(weekdays.runs_on(days_from_civil(2026, 3, 2)));
  CHECK(weekdays.runs_on(days_from_civil(2026, 3, 3)));
  CHECK(weekdays.runs_on(days_from_civil(2026, 3, 7)));
  CHECK_FALSE(weekdays.runs_on(days_from_civil(2026, 3, 8)));
  CHECK_FALSE(weekdays.runs_on(days_from_civil(2027, 1, 4)));
  const Service& special = p.service_dates[p.services.find("special")];
  CHECK(special.runs_on(days_from_civil(2026, 3, 14)));
  CHECK_FALSE(special.runs_on(days_from_civil(2026, 3, 15)));
}
