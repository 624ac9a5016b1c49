#pragma once
// FareQuoter: the fare of one leg under the feed's fare_leg_rules.txt, following the GTFS-Fares
// v2 matching rules, and the price of a fare product for a rider. Part of the fare engine;
// public so that tools can ask "what does A to B cost at 08:00 for a senior?".
//
// Matching (the specification's two meanings of an empty field):
// - with a rule_priority column, an empty network_id / from_area_id / to_area_id does not
//   affect matching, and among matching rules only those with the highest rule_priority count;
// - without it, an empty field matches every value that no rule of the file lists in that
//   column (so a leg whose value is listed only matches the rules that list it).
// Timeframes are checked on the local calendar date and wall-clock time of the event, in the
// time zone of the stop (stop_timezone, else the agency's). A rule whose fare product has no
// price for the rider's category and fare medium does not apply to that rider. Among the rules
// left, the rider pays the cheapest (the best fare, without asking).
//
// Not thread-safe (it caches time zone periods): one per worker thread.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "backoffice/fares/fare_policy.h"
#include "backoffice/fares/local_time.h"

namespace faregate::fares {

inline constexpr std::uint32_t kNoRule = 0xFFFFFFFFu;

struct LegFacts {
  Index network = kNone;  // kNone: unknown (then every network that could apply is tried)
  Index from_stop = kNone;
  Index to_stop = kNone;
  std::span<const Index> from_areas;  // areas of from_stop (or a hypothesis, for maximum fares)
  std::span<const Index> to_areas;
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
};

struct FareQuote {
  bool priced = false;
  std::uint32_t rule = kNoRule;  // index into FarePolicy::leg_rules
  Index fare_product = kNone;
  Index leg_group = kNone;
  std::int64_t amount = 0;
  Index rider_category = kNone;  // the category actually priced (kNone: the default)
};

class FareQuoter {
 public:
  explicit FareQuoter(const FarePolicy& policy);

  // The price of `product` for a rider of `rider_category` (kNone: the feed's default rider)
  // using `fare_media` (kNone: unknown). nullopt when the product has no price for them.
  std::optional<std::int64_t> price(Index product, Index rider_category, Index fare_media) const;

  // The fare of a leg. When no rule applies to the rider's category, the default category's
  // fare is used (a concession card on a network without concessions pays the full fare).
  FareQuote quote(const LegFacts& leg, Index rider_category, Index fare_media);

  // The dearest fare a leg starting at from_stop could have (any destination), or ending at
  // to_stop (any origin): the maximum fare for a missing tap-out or tap-in.
  FareQuote maximum_from(Index from_stop, Index network, std::int64_t at_ms, Index rider_category, Index fare_media);
  FareQuote maximum_to(Index to_stop, Index network, std::int64_t at_ms, Index rider_category, Index fare_media);

  // Local date and wall-clock time of an instant at a stop (kNone: the agency's zone).
  LocalMoment local(Index stop, std::int64_t utc_ms);

 private:
  enum class Pick { kCheapest, kDearest };
  FareQuote quote_on_network(const LegFacts& leg, Index network_slot, Index rider_category, Index fare_media);
  FareQuote quote_any_network(const LegFacts& leg, Index rider_category, Index fare_media, Pick pick);
  bool in_timeframe(Index group, Index stop, std::int64_t utc_ms);
  bool area_matches(Index rule_area, std::span<const Index> leg_areas, const std::vector<bool>& listed) const;
  std::span<const Index> candidate_networks(const LegFacts& leg, std::vector<Index>& scratch) const;

  const FarePolicy& policy_;
  std::vector<LocalClock> clocks_;  // one per policy time zone
  std::vector<Index> network_scratch_;
};

}  // namespace faregate::fares
