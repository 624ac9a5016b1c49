#pragma once
// The synthetic service day the fare benchmarks price: a metro-and-bus network (6 zones, 120
// gated stations, 600 bus stops on 40 routes, a peak timeframe, transfers, daily and weekly
// caps) and one day of taps by a given number of cards. Shared by bench_fares (taps straight
// into the engine) and bench_fare_run (taps through a tap store to charges), so both price the
// same day.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backoffice/fares/entitlement_registry.h"
#include "backoffice/fares/fare_policy.h"
#include "backoffice/fares/tap.h"

namespace faregate::bench {

// The feed's files by name (agency time zone Europe/London, currency GBP).
std::map<std::string, std::string> synthetic_feed();

struct SyntheticDay {
  fares::FarePolicy policy;
  // Five taps per card (metro out: entry and exit; a bus ride; metro back), in card order; 1%
  // of cards forget a tap-out, 0.5% tap twice. Tap::device is the stop index, Tap::seq counts
  // over the whole day.
  std::vector<fares::Tap> taps;
  // Every twentieth card is registered as a senior.
  fares::EntitlementRegistry registry;
};

// Requires: cards > 0. Deterministic (fixed seed). The day is Monday 2026-03-02.
std::unique_ptr<SyntheticDay> make_synthetic_day(int cards);

}  // namespace faregate::bench
