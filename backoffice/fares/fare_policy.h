#pragma once
// FarePolicy: a GTFS-Fares v2 feed (plus Faregate's capping extension, docs/fare_capping.md)
// loaded into flat, interned tables. Built by load_gtfs_fares() (gtfs_fares_loader.h) and
// immutable afterwards: any number of threads may price with one policy at once.
//
// Every "Index" field refers to the table named in its comment; kNone stands for an empty
// GTFS field.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "backoffice/fares/interner.h"
#include "backoffice/fares/local_time.h"
#include "backoffice/fares/money.h"

namespace faregate::fares {

struct Stop {
  Index parent = kNone;        // stops: parent_station
  Index station = kNone;       // stops: the station (location_type 1) this stop belongs to, or itself
  std::uint8_t location_type = 0;
  Index time_zone = 0;         // FarePolicy::time_zones (0 = the agency's)
  // Areas the stop is in (stop_areas.txt), its own or, when it has none, its parent
  // station's: [area_begin, area_begin + area_count) in FarePolicy::stop_area_list.
  std::uint32_t area_begin = 0;
  std::uint32_t area_count = 0;
  // Networks of the routes that call at the stop or its station (from trips.txt and
  // stop_times.txt when present): [network_begin, +network_count) in stop_network_list.
  std::uint32_t network_begin = 0;
  std::uint32_t network_count = 0;
};

struct Route {
  Index network = kNone;  // networks (routes.network_id or route_networks.txt)
};

struct RiderCategory {
  bool is_default = false;
};

struct FareMedia {
  int type = 0;  // fare_media_type 0..4 (3 = cEMV)
};

// One row of fare_products.txt: a price of a product for a rider category and a fare medium.
struct FareProductPrice {
  Index rider_category = kNone;  // kNone: any rider category
  Index fare_media = kNone;      // kNone: fare media unknown
  std::int64_t amount = 0;       // minor units of FarePolicy::currency
};

struct Timeframe {
  std::int32_t start_s = 0;      // inclusive, 0 .. 86400
  std::int32_t end_s = 86400;    // exclusive
  Index service = kNone;         // services
};

// The dates on which a service_id runs (calendar.txt + calendar_dates.txt).
struct Service {
  std::int32_t first_day = 0;
  std::vector<bool> active;  // active[d - first_day]
  bool runs_on(std::int32_t day) const {
    const std::int64_t i = static_cast<std::int64_t>(day) - first_day;
    return i >= 0 && i < static_cast<std::int64_t>(active.size()) && active[static_cast<std::size_t>(i)];
  }
};

struct FareLegRule {
  Index leg_group = kNone;       // leg_groups
  Index network = kNone;         // networks
  Index from_area = kNone;       // areas
  Index to_area = kNone;         // areas
  Index from_timeframe = kNone;  // timeframe_groups
  Index to_timeframe = kNone;    // timeframe_groups
  Index fare_product = kNone;    // fare_products (required)
  std::int32_t priority = 0;     // rule_priority (empty = 0)
  std::uint32_t line = 0;        // line in fare_leg_rules.txt, for explanations
};

struct FareLegJoinRule {
  Index from_network = kNone;
  Index to_network = kNone;
  Index from_stop = kNone;  // stops
  Index to_stop = kNone;    // stops
};

struct FareTransferRule {
  Index from_leg_group = kNone;
  Index to_leg_group = kNone;
  std::int32_t transfer_count = 0;     // 0: empty (forbidden when groups differ), -1: no limit
  std::int32_t duration_limit_s = 0;   // 0: no limit
  std::int8_t duration_limit_type = -1;  // 0..3, -1 when there is no duration limit
  std::int8_t fare_transfer_type = 0;  // 0, 1 or 2
  Index fare_product = kNone;          // kNone: the transfer costs 0
  std::uint32_t line = 0;
};

// Faregate extension (docs/fare_capping.md): faregate_fare_caps.txt.
enum class CapPeriod : std::uint8_t {
  kServiceDay = 0,  // one service day
  kWeek = 1,        // Monday to Sunday of service days (TfL)
  kRolling = 2,     // rolling_days days starting at the first capped leg (OMNY)
};

struct FareCap {
  Index cap_id = kNone;            // cap_ids
  CapPeriod period = CapPeriod::kServiceDay;
  std::int32_t rolling_days = 7;
  bool has_max_amount = false;
  std::int64_t max_amount = 0;     // minor units
  std::int32_t max_paid_rides = 0; // 0: no ride-count limit
  Index rider_category = kNone;    // kNone: every category
  Index fare_media = kNone;        // kNone: every medium
  Index network = kNone;           // kNone: legs of every network
};

struct FarePolicy {
  // Interned string ids, one interner per GTFS id space.
  Interner stop_ids, route_ids, network_ids, area_ids, leg_groups, timeframe_groups, services,
      rider_categories_ids, fare_media_ids, fare_products_ids, cap_ids;

  std::vector<TimeZone> time_zones;  // [0] is agency_timezone
  CurrencyCode currency;             // the one currency every amount is in

  std::vector<Stop> stops;                 // by stop index
  std::vector<Index> stop_area_list;
  std::vector<Index> stop_network_list;
  std::vector<Route> routes;               // by route index
  std::vector<RiderCategory> rider_categories;
  Index default_rider_category = kNone;    // the is_default_fare_category one, when unique
  std::vector<FareMedia> fare_media;
  // Prices of each product: product_prices[product_price_begin[p] .. product_price_begin[p+1]).
  std::vector<FareProductPrice> product_prices;
  std::vector<std::uint32_t> product_price_begin;
  std::vector<Service> service_dates;      // by service index
  // Timeframes of each group: timeframes[timeframe_begin[g] .. timeframe_begin[g+1]).
  std::vector<Timeframe> timeframes;
  std::vector<std::uint32_t> timeframe_begin;

  std::vector<FareLegRule> leg_rules;      // file order
  bool has_rule_priority = false;          // fare_leg_rules.txt has the rule_priority column
  // For the "empty means every value not listed" semantics (no rule_priority column): which
  // values the file lists in each column.
  std::vector<bool> network_listed_in_leg_rules;    // by network
  std::vector<bool> from_area_listed_in_leg_rules;  // by area
  std::vector<bool> to_area_listed_in_leg_rules;    // by area
  // Leg rules to try for a leg on network n: rules_by_network[n] (n = networks.size() for a
  // leg whose network is unknown), rule indexes in file order.
  std::vector<std::vector<std::uint32_t>> rules_by_network;
  bool has_timeframe_rules = false;

  std::vector<FareLegJoinRule> join_rules;
  std::vector<FareTransferRule> transfer_rules;
  std::vector<bool> from_group_listed_in_transfers;  // by leg group
  std::vector<bool> to_group_listed_in_transfers;    // by leg group

  std::vector<FareCap> caps;

  // Distinct non-empty area sets of stops, for maximum fares (a missing tap-out is charged the
  // dearest fare to any place the rider could have gone).
  std::vector<std::vector<Index>> distinct_area_sets;

  std::span<const Index> areas_of(Index stop) const {
    const Stop& s = stops[stop];
    return {stop_area_list.data() + s.area_begin, s.area_count};
  }
  std::span<const Index> networks_at(Index stop) const {
    const Stop& s = stops[stop];
    return {stop_network_list.data() + s.network_begin, s.network_count};
  }
  std::span<const FareProductPrice> prices_of(Index product) const {
    return {product_prices.data() + product_price_begin[product],
            product_price_begin[product + 1] - product_price_begin[product]};
  }
  std::span<const Timeframe> timeframes_of(Index group) const {
    return {timeframes.data() + timeframe_begin[group], timeframe_begin[group + 1] - timeframe_begin[group]};
  }
  // Convenience lookups for callers building taps: kUnknown when the id is not in the feed,
  // kNone when `id` is empty.
  Index stop_index(std::string_view id) const { return lookup(stop_ids, id); }
  Index route_index(std::string_view id) const { return lookup(route_ids, id); }
  Index rider_category_index(std::string_view id) const { return lookup(rider_categories_ids, id); }
  Index fare_media_index(std::string_view id) const { return lookup(fare_media_ids, id); }

 private:
  static Index lookup(const Interner& interner, std::string_view id) {
    if (id.empty()) return kNone;
    const Index i = interner.find(id);
    return i == kNone ? kUnknown : i;
  }
};

}  // namespace faregate::fares
