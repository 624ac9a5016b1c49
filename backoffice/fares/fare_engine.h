#pragma once
// FareEngine: taps -> legs -> fares -> transfers -> caps -> one priced result per card token
// and service day. A pure library: give it the taps (and the entitlement registry), get back
// every leg with its fare and discounts and every tap that became no leg. Pricing the same taps
// again gives the same result whatever their order: re-pricing after late taps arrive is how
// adjustments are found (the caller compares the new result with what it charged).
//
// Every cent is explained. For each leg:
//   charged = fare - transfer_discount - cap_discount
// where fare is the leg rule's product price, transfer_discount what fare_transfer_rules.txt
// took off (negative when a transfer costs extra), cap_discount what a cap took off. For each
// card and service day the same identity holds over the sums, and total = sum of charged.
//
// Order of work for one card (docs/fare_engine.md):
//  1. service day of each tap (local wall time minus service_day_start, agency time zone);
//  2. legs and orphan taps (leg_builder.h);
//  3. effective fare legs (fare_leg_join_rules.txt) within a service day;
//  4. leg fares (fare_quoter.h); maximum fares for incomplete journeys;
//  5. transfers (fare_transfer_rules.txt), within a service day, in time order;
//  6. caps (faregate_fare_caps.txt, docs/fare_capping.md) over the card's whole history
//     given, in time order; maximum fares never count toward a cap and are never capped.
//
// Thread-safety: price() is const and may run concurrently; it uses EngineOptions::threads
// worker threads itself.

#include <cstdint>
#include <span>
#include <vector>

#include "backoffice/fares/entitlement_registry.h"
#include "backoffice/fares/fare_policy.h"
#include "backoffice/fares/fare_quoter.h"
#include "backoffice/fares/leg_builder.h"
#include "backoffice/fares/tap.h"

namespace faregate::fares {

struct EngineOptions {
  // Service days start at this local time (seconds after midnight), agency time zone.
  std::int32_t service_day_start_s = 4 * 3600 + 30 * 60;
  std::int64_t double_tap_window_ms = 60'000;
  std::int64_t max_journey_ms = 3 * 3600 * 1000;
  bool auto_complete = true;
  // Fare medium of taps that do not name one. kNone: the feed's only cEMV medium
  // (fare_media_type 3) when it has exactly one, else unknown.
  Index default_fare_media = kNone;
  unsigned threads = 1;
};

struct PricedLeg {
  LegKind kind = LegKind::kOnboard;
  std::uint32_t first_tap = kNoTap;  // index into the taps given to price(); kNoTap if missing
  std::uint32_t last_tap = kNoTap;   // the exit (or last) tap; kNoTap if missing
  std::uint32_t joined_legs = 1;     // > 1: an effective fare leg (fare_leg_join_rules.txt)
  Index from_stop = kNone;
  Index to_stop = kNone;
  Index network = kNone;
  Index rider_category = kNone;      // the category the rider travelled as (kNone: default)
  // True when no fare exists for that category and the default rider's fare was charged; caps
  // then treat the leg as the default rider's too.
  bool default_category_fare = false;
  Index fare_media = kNone;
  std::int32_t service_day = 0;
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  bool priced = false;               // false: no leg rule matched; fare 0, reported
  Index fare_product = kNone;
  std::uint32_t leg_rule = kNoRule;      // FarePolicy::leg_rules index
  std::uint32_t transfer_rule = kNoRule; // FarePolicy::transfer_rules index applied into this leg
  Index cap = kNone;                     // FarePolicy::caps index that bound this leg, if any
  std::int64_t fare = 0;
  std::int64_t transfer_discount = 0;
  std::int64_t cap_discount = 0;
  std::int64_t charged = 0;
};

struct AppliedCap {
  Index cap = kNone;  // FarePolicy::caps index
  std::int64_t discount = 0;
};

struct CardDayResult {
  CardToken card;
  std::int32_t service_day = 0;
  std::uint32_t leg_begin = 0, leg_count = 0;        // PricingResult::legs
  std::uint32_t orphan_begin = 0, orphan_count = 0;  // PricingResult::orphans
  std::uint32_t cap_begin = 0, cap_count = 0;        // PricingResult::applied_caps
  std::int64_t fare_total = 0;
  std::int64_t transfer_discount = 0;
  std::int64_t cap_discount = 0;
  std::int64_t total = 0;  // fare_total - transfer_discount - cap_discount
  std::uint32_t unpriced_legs = 0;
  std::uint32_t maximum_fare_legs = 0;
};

struct PricingResult {
  CurrencyCode currency;
  // Sorted by card token, then service day. A card-day with only orphan taps is listed too.
  std::vector<CardDayResult> days;
  std::vector<PricedLeg> legs;
  std::vector<OrphanTap> orphans;
  std::vector<AppliedCap> applied_caps;
  std::uint64_t taps = 0;
  std::uint64_t duplicate_taps = 0;  // same (device, seq) given more than once: priced once

  std::span<const PricedLeg> legs_of(const CardDayResult& d) const { return {legs.data() + d.leg_begin, d.leg_count}; }
  std::span<const OrphanTap> orphans_of(const CardDayResult& d) const {
    return {orphans.data() + d.orphan_begin, d.orphan_count};
  }
  std::span<const AppliedCap> caps_of(const CardDayResult& d) const {
    return {applied_caps.data() + d.cap_begin, d.cap_count};
  }
};

class FareEngine {
 public:
  // `policy` must outlive the engine.
  explicit FareEngine(const FarePolicy& policy, EngineOptions options = {});

  // Prices every card and service day in `taps`. Taps of a card on days before the ones to
  // charge should be included when a week or rolling cap is in force (the caps count them).
  PricingResult price(std::span<const Tap> taps, const EntitlementRegistry& entitlements) const;

  const EngineOptions& options() const { return options_; }
  const FarePolicy& policy() const { return policy_; }

 private:
  const FarePolicy& policy_;
  EngineOptions options_;
  // Registry category ids resolved once: rider_categories_ids name -> index (or kUnknown).
};

}  // namespace faregate::fares
