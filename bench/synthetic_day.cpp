#include "bench/synthetic_day.h"

#include <random>

#include "backoffice/fares/gtfs_fares_loader.h"

namespace faregate::bench {

namespace {

using namespace faregate::fares;

constexpr int kStations = 120;
constexpr int kZones = 6;
constexpr int kBusStops = 600;
constexpr int kBusRoutes = 40;

}  // namespace

std::map<std::string, std::string> synthetic_feed() {
  std::map<std::string, std::string> f;
  f["agency.txt"] = "agency_id,agency_name,agency_url,agency_timezone\nb,Bench,https://b.example,Europe/London\n";
  std::string stops = "stop_id,location_type,parent_station\n";
  std::string stop_areas = "area_id,stop_id\n";
  std::string areas = "area_id\nbus\n";
  for (int z = 1; z <= kZones; ++z) areas += "z" + std::to_string(z) + "\n";
  for (int s = 0; s < kStations; ++s) {
    const std::string id = "st" + std::to_string(s);
    stops += id + ",1,\n" + id + "-gate,2," + id + "\n";
    stop_areas += "z" + std::to_string(1 + s % kZones) + "," + id + "\n";
  }
  for (int s = 0; s < kBusStops; ++s) {
    stops += "bs" + std::to_string(s) + ",0,\n";
    stop_areas += "bus,bs" + std::to_string(s) + "\n";
  }
  std::string routes = "route_id,route_type,network_id\nmetro,1,metro\n";
  for (int r = 0; r < kBusRoutes; ++r) routes += "bus" + std::to_string(r) + ",3,bus\n";
  f["stops.txt"] = stops;
  f["stop_areas.txt"] = stop_areas;
  f["areas.txt"] = areas;
  f["routes.txt"] = routes;
  f["calendar.txt"] =
      "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
      "weekdays,1,1,1,1,1,0,0,20260101,20271231\n";
  f["timeframes.txt"] = "timeframe_group_id,start_time,end_time,service_id\npeak,06:30:00,09:30:00,weekdays\n";
  f["rider_categories.txt"] = "rider_category_id,rider_category_name,is_default_fare_category\nadult,Adult,1\nsenior,Senior,0\n";
  f["fare_media.txt"] = "fare_media_id,fare_media_type\ncemv,3\n";
  std::string products = "fare_product_id,rider_category_id,amount,currency\nbus,,1.75,GBP\nbus,senior,0.80,GBP\nfree,,0,GBP\n";
  std::string rules = "leg_group_id,network_id,from_area_id,to_area_id,from_timeframe_group_id,fare_product_id,rule_priority\n";
  for (int a = 1; a <= kZones; ++a) {
    for (int b = 1; b <= kZones; ++b) {
      const int zones = 1 + (a > b ? a - b : b - a);
      const std::string off = "m" + std::to_string(a) + std::to_string(b);
      products += off + ",," + std::to_string(2 + zones) + ".10,GBP\n";
      products += off + "p,," + std::to_string(3 + zones) + ".40,GBP\n";
      const std::string za = "z" + std::to_string(a), zb = "z" + std::to_string(b);
      rules += "metro,metro," + za + "," + zb + ",peak," + off + "p,1\n";
      rules += "metro,metro," + za + "," + zb + ",," + off + ",0\n";
    }
  }
  rules += "bus,bus,,,,bus,0\n";
  f["fare_products.txt"] = products;
  f["fare_leg_rules.txt"] = rules;
  f["fare_transfer_rules.txt"] =
      "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id\n"
      "bus,bus,-1,3600,1,0,free\nmetro,bus,,3600,2,0,free\n";
  f["faregate_fare_caps.txt"] = "cap_id,cap_period,max_amount,currency\ndaily,0,8.90,GBP\nweekly,1,44.70,GBP\n";
  return f;
}

std::unique_ptr<SyntheticDay> make_synthetic_day(int cards) {
  auto out = std::make_unique<SyntheticDay>(
      SyntheticDay{*load_gtfs_fares(FeedSource::in_memory(synthetic_feed())), {}, {}});
  const FarePolicy& p = out->policy;
  std::mt19937_64 rng(42);
  out->taps.reserve(5 * cards + cards / 100);
  const std::int64_t day_start = 1'772'438'400'000;  // 2026-03-02T08:00:00Z
  std::uint64_t seq = 0;
  auto tap = [&](const CardToken& c, std::int64_t t, Index stop, TapRole role, Index route) {
    Tap x;
    x.card = c;
    x.utc_ms = t;
    x.stop = stop;
    x.role = role;
    x.route = route;
    x.device = static_cast<std::uint32_t>(stop);
    x.seq = ++seq;
    out->taps.push_back(x);
  };
  for (int c = 0; c < cards; ++c) {
    std::uint8_t bytes[32];
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    const CardToken card = *CardToken::from_bytes({bytes, 32});
    if (c % 20 == 0) out->registry.add(card, Entitlement{"senior"});
    const Index home = p.stop_index("st" + std::to_string(rng() % kStations) + "-gate");
    const Index work = p.stop_index("st" + std::to_string(rng() % kStations) + "-gate");
    const Index bus_stop = p.stop_index("bs" + std::to_string(rng() % kBusStops));
    const Index bus_route = p.route_index("bus" + std::to_string(rng() % kBusRoutes));
    std::int64_t t = day_start - 2 * 3600'000 + static_cast<std::int64_t>(rng() % (4 * 3600)) * 1000;
    tap(card, t, home, TapRole::kEntry, kNone);
    if (c % 200 == 0) tap(card, t + 20'000, home, TapRole::kEntry, kNone);  // double tap
    t += (10 + rng() % 50) * 60'000;
    if (c % 100 != 0) tap(card, t, work, TapRole::kExit, kNone);          // 1% forget
    t += (5 + rng() % 40) * 60'000;
    tap(card, t, bus_stop, TapRole::kOnboard, bus_route);
    t += (6 + rng() % 4) * 3600'000;
    tap(card, t, work, TapRole::kEntry, kNone);
    t += (10 + rng() % 50) * 60'000;
    tap(card, t, home, TapRole::kExit, kNone);
  }
  return out;
}

}  // namespace faregate::bench
