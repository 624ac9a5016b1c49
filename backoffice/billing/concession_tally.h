#pragma once
// Concession card-days of a pricing: how many card-days were charged a rider category's own
// fare (not the feed's default rider's), and what those card-days cost, per rider category.
// The fare run's summary shows them so an operator sees that registered concessions
// (entitlements) were applied.

#include <cstdint>
#include <string>
#include <vector>

#include "backoffice/fares/fare_engine.h"
#include "backoffice/fares/fare_policy.h"

namespace faregate::billing {

struct ConcessionDays {
  std::string rider_category;  // a rider_categories.txt id, never the default one
  std::uint64_t card_days = 0;
  std::int64_t revenue = 0;    // minor units: the card-days' totals, after discounts
};

// A card-day counts for category C when a priced leg of it was charged C's own fare (a leg of a
// concession rider for which the feed has no concession price is charged the default fare and
// does not count). A card-day whose legs were priced under several categories counts once, for
// the category of its first such leg. Returns: one entry per category with at least one
// card-day, in rider_categories.txt order.
// Requires: `pricing` was made with `policy`.
std::vector<ConcessionDays> tally_concession_days(const fares::FarePolicy& policy,
                                                  const fares::PricingResult& pricing);

}  // namespace faregate::billing
