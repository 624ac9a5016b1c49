#pragma once
// Hand-made GTFS-Fares v2 feeds and tap builders for the fare engine tests.
//
// The base feed is "Testville" (Europe/Paris): a metro (network metro, route m1) with three
// gated stations, central and north in zone1 and airport in zone2, and buses (network bus,
// routes b7 and b8) at stops bus-a, bus-b, bus-c in buszone. Metro: 2.00 EUR within zone1,
// 3.50 otherwise (rule_priority picks the zone1 rule); bus 1.50; seniors pay half.

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "backoffice/fares/fare_engine.h"
#include "backoffice/fares/gtfs_fares_loader.h"
#include "backoffice/fares/local_time.h"

namespace faregate::fares::testing {

using Files = std::map<std::string, std::string>;

inline Files base_feed() {
  Files f;
  f["agency.txt"] =
      "agency_id,agency_name,agency_url,agency_timezone\n"
      "tv,Testville Transit,https://example.org,Europe/Paris\n";
  f["stops.txt"] =
      "stop_id,stop_name,location_type,parent_station\n"
      "central,Central,1,\n"
      "central-gate,Central gates,2,central\n"
      "central-p,Central platform,0,central\n"
      "north,North,1,\n"
      "north-gate,North gates,2,north\n"
      "north-p,North platform,0,north\n"
      "airport,Airport,1,\n"
      "airport-gate,Airport gates,2,airport\n"
      "airport-p,Airport platform,0,airport\n"
      "bus-a,Bus A,0,\n"
      "bus-b,Bus B,0,\n"
      "bus-c,Bus C,0,\n";
  f["routes.txt"] =
      "route_id,route_short_name,route_type,network_id\n"
      "m1,M1,1,metro\n"
      "b7,7,3,bus\n"
      "b8,8,3,bus\n";
  f["trips.txt"] =
      "route_id,service_id,trip_id\n"
      "m1,everyday,m1-1\n"
      "b7,everyday,b7-1\n";
  f["stop_times.txt"] =
      "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
      "m1-1,08:00:00,08:00:00,central-p,1\n"
      "m1-1,08:05:00,08:05:00,north-p,2\n"
      "m1-1,08:20:00,08:20:00,airport-p,3\n"
      "b7-1,08:00:00,08:00:00,bus-a,1\n"
      "b7-1,08:10:00,08:10:00,bus-b,2\n";
  f["calendar.txt"] =
      "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
      "everyday,1,1,1,1,1,1,1,20260101,20261231\n"
      "weekdays,1,1,1,1,1,0,0,20260101,20261231\n"
      "saturdays,0,0,0,0,0,1,0,20260101,20261231\n";
  f["areas.txt"] = "area_id,area_name\nzone1,Zone 1\nzone2,Zone 2\nbuszone,Buses\n";
  f["stop_areas.txt"] =
      "area_id,stop_id\n"
      "zone1,central\n"
      "zone1,north\n"
      "zone2,airport\n"
      "buszone,bus-a\n"
      "buszone,bus-b\n"
      "buszone,bus-c\n";
  f["rider_categories.txt"] =
      "rider_category_id,rider_category_name,is_default_fare_category\n"
      "adult,Adult,1\n"
      "senior,Senior,0\n"
      "student,Student,0\n";
  f["fare_media.txt"] = "fare_media_id,fare_media_name,fare_media_type\ncemv,Contactless,3\npaper,Paper ticket,1\n";
  f["fare_products.txt"] =
      "fare_product_id,fare_product_name,rider_category_id,fare_media_id,amount,currency\n"
      "metro_z1,Metro zone 1,,,2.00,EUR\n"
      "metro_z1,Metro zone 1 senior,senior,,1.00,EUR\n"
      "metro_z12,Metro zones 1-2,,,3.50,EUR\n"
      "metro_z12,Metro zones 1-2 senior,senior,,1.75,EUR\n"
      "bus,Bus,,,1.50,EUR\n"
      "bus,Bus senior,senior,,0.75,EUR\n"
      "free,Free transfer,,,0.00,EUR\n";
  f["fare_leg_rules.txt"] =
      "leg_group_id,network_id,from_area_id,to_area_id,fare_product_id,rule_priority\n"
      "metro,metro,zone1,zone1,metro_z1,1\n"
      "metro,metro,,,metro_z12,0\n"
      "bus,bus,,,bus,0\n";
  return f;
}

inline FarePolicy load(const Files& files, LoadOptions options = {}) {
  auto policy = load_gtfs_fares(FeedSource::in_memory(files), options);
  if (!policy) FAIL("feed did not load: " << policy.error().message);
  return std::move(*policy);
}

inline std::string load_error(const Files& files) {
  auto policy = load_gtfs_fares(FeedSource::in_memory(files));
  if (policy) return "(loaded)";
  return policy.error().message;
}

inline std::int64_t at(const char* iso) {
  auto ms = parse_iso8601_utc_ms(iso);
  if (!ms) FAIL(ms.error().message);
  return *ms;
}

inline CardToken card(std::string_view name) { return *CardToken::from_bytes(as_bytes(name)); }

// Builds taps against a policy: tap("alice", "2026-03-02T08:00:00+01:00", "central-gate", entry).
class Taps {
 public:
  explicit Taps(const FarePolicy& policy) : policy_(policy) {}
  Taps& add(std::string_view who, const char* iso, std::string_view stop, TapRole role, std::string_view route = "",
            std::string_view category = "") {
    Tap t;
    t.card = card(who);
    t.utc_ms = at(iso);
    t.stop = policy_.stop_index(stop);
    t.route = policy_.route_index(route);
    t.rider_category = policy_.rider_category_index(category);
    t.role = role;
    t.device = 1;
    t.seq = ++seq_;
    taps_.push_back(t);
    return *this;
  }
  Taps& entry(std::string_view who, const char* iso, std::string_view stop) { return add(who, iso, stop, TapRole::kEntry); }
  Taps& exit(std::string_view who, const char* iso, std::string_view stop) { return add(who, iso, stop, TapRole::kExit); }
  Taps& bus(std::string_view who, const char* iso, std::string_view stop, std::string_view route = "b7") {
    return add(who, iso, stop, TapRole::kOnboard, route);
  }
  std::vector<Tap>& all() { return taps_; }

 private:
  const FarePolicy& policy_;
  std::vector<Tap> taps_;
  std::uint64_t seq_ = 0;
};

inline PricingResult price(const FarePolicy& policy, const std::vector<Tap>& taps, EngineOptions options = {},
                           const EntitlementRegistry& registry = EntitlementRegistry{}) {
  FareEngine engine(policy, options);
  return engine.price(taps, registry);
}

// The result of one card on one service day ("2026-03-02"); fails the test when absent.
inline const CardDayResult& day_of(const PricingResult& r, std::string_view who, const char* service_day) {
  const CardToken c = card(who);
  for (const auto& d : r.days) {
    if (d.card == c && format_date(d.service_day) == service_day) return d;
  }
  FAIL("no result for " << who << " on " << service_day);
  return r.days.front();
}

inline std::vector<std::int64_t> charges(const PricingResult& r, const CardDayResult& d) {
  std::vector<std::int64_t> out;
  for (const auto& l : r.legs_of(d)) out.push_back(l.charged);
  return out;
}

inline std::vector<std::int64_t> fares(const PricingResult& r, const CardDayResult& d) {
  std::vector<std::int64_t> out;
  for (const auto& l : r.legs_of(d)) out.push_back(l.fare);
  return out;
}

// Every card-day's books balance: total = fares - transfer discounts - cap discounts, leg by
// leg and summed.
inline void check_books(const PricingResult& r) {
  for (const auto& d : r.days) {
    std::int64_t fare = 0, transfer = 0, cap = 0, charged = 0;
    for (const auto& l : r.legs_of(d)) {
      CHECK(l.charged == l.fare - l.transfer_discount - l.cap_discount);
      fare += l.fare;
      transfer += l.transfer_discount;
      cap += l.cap_discount;
      charged += l.charged;
    }
    CHECK(d.fare_total == fare);
    CHECK(d.transfer_discount == transfer);
    CHECK(d.cap_discount == cap);
    CHECK(d.total == charged);
    CHECK(d.total == d.fare_total - d.transfer_discount - d.cap_discount);
  }
}

}  // namespace faregate::fares::testing
