#pragma once
// The quote CLI's output: one JSON object per line per card and service day
// (docs/fare_engine.md, "faregate-fares"). Amounts are integers in minor units.

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backoffice/fares/fare_engine.h"
#include "tools/fares/tap_csv.h"

namespace faregate::fares::cli {

// One object per CardDayResult, cards in the order they first appear in the tap file, then by
// service day.
std::vector<nlohmann::ordered_json> quote_objects(const PricingResult& result, const FarePolicy& policy,
                                                  const TapFile& taps);

void write_quote_lines(const PricingResult& result, const FarePolicy& policy, const TapFile& taps,
                       std::ostream& out);

}  // namespace faregate::fares::cli
