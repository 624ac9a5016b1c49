// A real agency's published GTFS-Fares v2 files: Transcollines (Quebec), copied unchanged into
// tests/data/gtfs/transcollines (source and licence in its README). Fares checked by hand
// against fare_leg_rules.txt and fare_products.txt.
#include "tests/backoffice/fares/fares_test_support.h"

using namespace faregate::fares;
using namespace faregate::fares::testing;

namespace {

FarePolicy transcollines() {
  auto policy = load_gtfs_fares(FeedSource::directory(FAREGATE_TEST_DATA_DIR "/gtfs/transcollines"));
  if (!policy) FAIL(policy.error().message);
  return std::move(*policy);
}

// Bus tap-on and tap-off on route 910 (Pontiac - Gatineau).
void ride(Taps& t, std::string_view who, const char* on, const char* on_stop, const char* off, const char* off_stop) {
  t.add(who, on, on_stop, TapRole::kEntry, "910");
  t.add(who, off, off_stop, TapRole::kExit, "910");
}

}  // namespace

TEST_CASE("Transcollines' published fares v2 files load as published", "[fares][real-feed]") {
  const FarePolicy p = transcollines();
  CHECK(p.time_zones[0].name() == "America/Montreal");
  CHECK(p.currency.str() == "CAD");
  CHECK(p.area_ids.size() == 3);
  CHECK(p.leg_rules.size() == 8);
  CHECK(p.has_rule_priority);  // the column is there, every value empty
  CHECK(p.network_ids.size() == 1);
  CHECK(p.routes[p.route_index("910")].network == p.network_ids.find("REG"));
  // F103-06 (Route 148 | de Clarendon) is in Pontiac, F401-10 (du Carrefour | 6e rang) in
  // Gatineau, F101-01 (Route 148 | de la Montagne) in the Collines.
  CHECK(p.area_ids.name(p.areas_of(p.stop_index("F103-06"))[0]) == "PNT");
  CHECK(p.area_ids.name(p.areas_of(p.stop_index("F401-10"))[0]) == "GAT");
  CHECK(p.area_ids.name(p.areas_of(p.stop_index("F101-01"))[0]) == "COL");
}

TEST_CASE("Transcollines: Pontiac to Gatineau costs 20.00 CAD, Gatineau to the Collines 5.00", "[fares][real-feed]") {
  const FarePolicy p = transcollines();
  Taps t(p);
  // Monday 2 March 2026, Eastern Standard Time.
  ride(t, "commuter", "2026-03-02T06:10:00-05:00", "F103-06", "2026-03-02T07:25:00-05:00", "F401-10");  // PNT->GAT
  ride(t, "commuter", "2026-03-02T16:40:00-05:00", "F401-10", "2026-03-02T17:50:00-05:00", "F101-01");  // GAT->COL
  ride(t, "local", "2026-03-02T09:00:00-05:00", "F103-06", "2026-03-02T09:30:00-05:00", "F101-01");     // PNT->COL
  ride(t, "local", "2026-03-02T12:00:00-05:00", "F103-06", "2026-03-02T12:20:00-05:00", "F103-07");     // PNT->PNT
  const auto r = price(p, t.all());
  check_books(r);
  const auto& c = day_of(r, "commuter", "2026-03-02");
  CHECK(fares(r, c) == std::vector<std::int64_t>{2000, 500});
  CHECK(r.legs_of(c)[0].fare_product == p.fare_products_ids.find("PS-2000"));
  CHECK(r.legs_of(c)[1].fare_product == p.fare_products_ids.find("PS-500"));
  CHECK(c.total == 2500);
  CHECK(r.currency.str() == "CAD");
  CHECK(day_of(r, "local", "2026-03-02").total == 1000);
}

TEST_CASE("Transcollines: no fare outside the timeframe's service dates; maximum fares per area", "[fares][real-feed]") {
  const FarePolicy p = transcollines();
  Taps t(p);
  // 1 September 2026 is after the GT-2026 service (ends 23 August): the feed gives no fare.
  ride(t, "autumn", "2026-09-01T08:00:00-04:00", "F103-06", "2026-09-01T09:10:00-04:00", "F401-10");
  // A boarding in Pontiac without tap-off: the dearest fare from Pontiac is to Gatineau.
  t.add("forgetful", "2026-03-02T06:10:00-05:00", "F103-06", TapRole::kEntry, "910");
  // From the Collines every destination costs 5.00.
  t.add("forgetful2", "2026-03-02T06:10:00-05:00", "F101-01", TapRole::kEntry, "910");
  const auto r = price(p, t.all());
  CHECK(day_of(r, "autumn", "2026-09-01").unpriced_legs == 1);
  CHECK(day_of(r, "autumn", "2026-09-01").total == 0);
  CHECK(day_of(r, "forgetful", "2026-03-02").total == 2000);
  CHECK(day_of(r, "forgetful2", "2026-03-02").total == 500);
}
