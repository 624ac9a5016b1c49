#pragma once
// EntitlementRegistry: concessions registered once against a card token (a student card, a
// senior's bank card) and applied by the fare engine to every tap of that card, without the
// rider asking ("no-touch" concessions). A tap's own rider category, when the validator set
// one, overrides the registry.

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backoffice/fares/card_token.h"
#include "common/error.h"

namespace faregate::fares {

struct Entitlement {
  std::string rider_category_id;  // a rider_categories.txt id
  // Service days (days since 1970-01-01) during which it holds, both inclusive.
  std::int32_t valid_from_day = std::numeric_limits<std::int32_t>::min();
  std::int32_t valid_until_day = std::numeric_limits<std::int32_t>::max();
};

class EntitlementRegistry {
 public:
  // Registers an entitlement; a card may hold several (a renewed student pass). When more than
  // one holds on a day, the one registered last wins.
  void add(const CardToken& card, Entitlement entitlement);
  // The rider category that applies to `card` on `service_day`, or empty.
  std::string_view category_for(const CardToken& card, std::int32_t service_day) const;
  // All entitlements of a card (empty when none).
  const std::vector<Entitlement>& of(const CardToken& card) const;
  std::size_t size() const { return by_card_.size(); }

 private:
  std::unordered_map<CardToken, std::vector<Entitlement>, CardTokenHash> by_card_;
};

// Reads an entitlements file (docs/fare_engine.md, "Entitlements file"): CSV with header
// card_token,rider_category and optional valid_from,valid_until columns (YYYY-MM-DD, inclusive
// service days; empty: unbounded); card_token is the card token in hex (64 digits for a
// validator's token). Adds each line to `registry` in file order. Errors name the file and line:
// a token that is not hex, a rider_category not in the policy's rider_categories.txt, a bad date,
// valid_until before valid_from. Nothing is added when the file has an error.
struct FarePolicy;
Status load_entitlements_csv(std::string_view text, const std::string& file_name, const FarePolicy& policy,
                             EntitlementRegistry& registry);

}  // namespace faregate::fares
