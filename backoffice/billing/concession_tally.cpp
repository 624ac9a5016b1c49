#include "backoffice/billing/concession_tally.h"

namespace faregate::billing {

std::vector<ConcessionDays> tally_concession_days(const fares::FarePolicy& policy,
                                                  const fares::PricingResult& pricing) {
  const std::size_t categories = policy.rider_categories_ids.size();
  std::vector<ConcessionDays> by_index(categories);
  for (const auto& day : pricing.days) {
    for (const auto& leg : pricing.legs_of(day)) {
      // kNone is the default rider; an index outside the feed's table cannot price a leg, but
      // the check keeps a malformed result from indexing past the table.
      if (!leg.priced || leg.default_category_fare || leg.rider_category == fares::kNone ||
          leg.rider_category == policy.default_rider_category || leg.rider_category >= categories) {
        continue;
      }
      ConcessionDays& c = by_index[leg.rider_category];
      ++c.card_days;
      c.revenue += day.total;
      break;
    }
  }
  std::vector<ConcessionDays> out;
  for (std::size_t i = 0; i < categories; ++i) {
    if (by_index[i].card_days == 0) continue;
    by_index[i].rider_category = policy.rider_categories_ids.name(static_cast<fares::Index>(i));
    out.push_back(std::move(by_index[i]));
  }
  return out;
}

}  // namespace faregate::billing
