#include "backoffice/fares/fare_quoter.h"

#include <algorithm>

namespace faregate::fares {

FareQuoter::FareQuoter(const FarePolicy& policy) : policy_(policy) {
  clocks_.reserve(policy.time_zones.size());
  for (const auto& tz : policy.time_zones) clocks_.emplace_back(&tz);
}

std::optional<std::int64_t> FareQuoter::price(Index product, Index rider_category, Index fare_media) const {
  if (product == kNone || product + 1 >= policy_.product_price_begin.size()) return std::nullopt;
  const auto prices = policy_.prices_of(product);
  // Rider category: rows for the rider's own category, else rows open to any category. The
  // default rider (no category) takes rows open to anyone, else the default category's rows.
  auto category_rows = [&](Index cat) {
    bool any = false;
    for (const auto& p : prices) any |= p.rider_category == cat;
    return any;
  };
  Index cat = kNone;
  if (rider_category != kNone && category_rows(rider_category)) {
    cat = rider_category;
  } else if (category_rows(kNone)) {
    cat = kNone;
  } else if (rider_category == kNone && policy_.default_rider_category != kNone &&
             category_rows(policy_.default_rider_category)) {
    cat = policy_.default_rider_category;
  } else {
    return std::nullopt;
  }
  // Fare medium: rows for the medium used, else rows with the medium unknown; a tap whose
  // medium is unknown may use any row of the category.
  auto media_rows = [&](Index media) {
    bool any = false;
    for (const auto& p : prices) any |= p.rider_category == cat && p.fare_media == media;
    return any;
  };
  std::optional<std::int64_t> best;
  auto consider = [&](const FareProductPrice& p) {
    if (!best || p.amount < *best) best = p.amount;
  };
  if (fare_media != kNone && media_rows(fare_media)) {
    for (const auto& p : prices)
      if (p.rider_category == cat && p.fare_media == fare_media) consider(p);
  } else if (media_rows(kNone)) {
    for (const auto& p : prices)
      if (p.rider_category == cat && p.fare_media == kNone) consider(p);
  } else if (fare_media == kNone) {
    for (const auto& p : prices)
      if (p.rider_category == cat) consider(p);
  }
  return best;
}

LocalMoment FareQuoter::local(Index stop, std::int64_t utc_ms) {
  const Index tz = stop == kNone || stop >= policy_.stops.size() ? 0 : policy_.stops[stop].time_zone;
  return clocks_[tz].to_local(utc_ms);
}

bool FareQuoter::in_timeframe(Index group, Index stop, std::int64_t utc_ms) {
  const LocalMoment m = local(stop, utc_ms);
  for (const auto& tf : policy_.timeframes_of(group)) {
    if (m.second_of_day >= tf.start_s && m.second_of_day < tf.end_s &&
        policy_.service_dates[tf.service].runs_on(m.day)) {
      return true;
    }
  }
  return false;
}

bool FareQuoter::area_matches(Index rule_area, std::span<const Index> leg_areas,
                              const std::vector<bool>& listed) const {
  if (rule_area != kNone) return std::find(leg_areas.begin(), leg_areas.end(), rule_area) != leg_areas.end();
  if (policy_.has_rule_priority) return true;
  // Empty without rule_priority: every area except those the file lists in this column.
  for (Index a : leg_areas)
    if (listed[a]) return false;
  return true;
}

FareQuote FareQuoter::quote_on_network(const LegFacts& leg, Index network_slot, Index rider_category,
                                       Index fare_media) {
  FareQuote best;
  std::int32_t best_priority = -1;
  for (std::uint32_t i : policy_.rules_by_network[network_slot]) {
    const FareLegRule& r = policy_.leg_rules[i];
    if (policy_.has_rule_priority && r.priority < best_priority) continue;
    if (!area_matches(r.from_area, leg.from_areas, policy_.from_area_listed_in_leg_rules)) continue;
    if (!area_matches(r.to_area, leg.to_areas, policy_.to_area_listed_in_leg_rules)) continue;
    if (r.from_timeframe != kNone && !in_timeframe(r.from_timeframe, leg.from_stop, leg.start_ms)) continue;
    if (r.to_timeframe != kNone &&
        !in_timeframe(r.to_timeframe, leg.to_stop != kNone ? leg.to_stop : leg.from_stop, leg.end_ms)) {
      continue;
    }
    const auto amount = price(r.fare_product, rider_category, fare_media);
    if (!amount) continue;
    const bool better = !best.priced || (policy_.has_rule_priority && r.priority > best_priority) ||
                        *amount < best.amount;
    if (better) {
      best.priced = true;
      best.rule = i;
      best.fare_product = r.fare_product;
      best.leg_group = r.leg_group;
      best.amount = *amount;
      best.rider_category = rider_category;
      best_priority = r.priority;
    }
  }
  return best;
}

std::span<const Index> FareQuoter::candidate_networks(const LegFacts& leg, std::vector<Index>& scratch) const {
  scratch.clear();
  const auto from = leg.from_stop != kNone ? policy_.networks_at(leg.from_stop) : std::span<const Index>{};
  const auto to = leg.to_stop != kNone ? policy_.networks_at(leg.to_stop) : std::span<const Index>{};
  if (!from.empty() && !to.empty()) {
    std::set_intersection(from.begin(), from.end(), to.begin(), to.end(), std::back_inserter(scratch));
  }
  // The networks serving both ends; failing that, the entry's (that is where the rider
  // boarded), else the exit's.
  if (scratch.empty() && !from.empty()) scratch.assign(from.begin(), from.end());
  if (scratch.empty() && !to.empty()) scratch.assign(to.begin(), to.end());
  if (scratch.empty()) {
    // Nothing tells which network the rider used: every network could have been.
    for (Index n = 0; n < policy_.network_ids.size(); ++n) scratch.push_back(n);
  }
  return scratch;
}

FareQuote FareQuoter::quote_any_network(const LegFacts& leg, Index rider_category, Index fare_media, Pick pick) {
  const Index unknown_slot = static_cast<Index>(policy_.network_ids.size());
  if (leg.network != kNone) return quote_on_network(leg, leg.network, rider_category, fare_media);
  // The leg's network is not known (a gate without a route, no stop_times.txt to tell): try the
  // networks that could have carried it, and the rules for an unknown network.
  FareQuote best = quote_on_network(leg, unknown_slot, rider_category, fare_media);
  std::vector<Index> scratch;
  for (Index n : candidate_networks(leg, scratch)) {
    FareQuote q = quote_on_network(leg, n, rider_category, fare_media);
    if (!q.priced) continue;
    if (!best.priced || (pick == Pick::kCheapest ? q.amount < best.amount : q.amount > best.amount)) best = q;
  }
  return best;
}

FareQuote FareQuoter::quote(const LegFacts& leg, Index rider_category, Index fare_media) {
  FareQuote q = quote_any_network(leg, rider_category, fare_media, Pick::kCheapest);
  if (!q.priced && rider_category != kNone) q = quote_any_network(leg, kNone, fare_media, Pick::kCheapest);
  return q;
}

FareQuote FareQuoter::maximum_from(Index from_stop, Index network, std::int64_t at_ms, Index rider_category,
                                   Index fare_media) {
  FareQuote best;
  LegFacts leg;
  leg.network = network;
  leg.from_stop = from_stop;
  leg.from_areas = policy_.areas_of(from_stop);
  leg.start_ms = leg.end_ms = at_ms;
  auto consider = [&](std::span<const Index> to_areas) {
    leg.to_areas = to_areas;
    for (Index cat : {rider_category, kNone}) {
      FareQuote q = quote_any_network(leg, cat, fare_media, Pick::kDearest);
      if (q.priced) {
        if (!best.priced || q.amount > best.amount) best = q;
        break;
      }
      if (cat == kNone) break;
    }
  };
  consider({});
  for (const auto& set : policy_.distinct_area_sets) consider(set);
  return best;
}

FareQuote FareQuoter::maximum_to(Index to_stop, Index network, std::int64_t at_ms, Index rider_category,
                                 Index fare_media) {
  FareQuote best;
  LegFacts leg;
  leg.network = network;
  leg.to_stop = to_stop;
  leg.to_areas = policy_.areas_of(to_stop);
  leg.start_ms = leg.end_ms = at_ms;
  auto consider = [&](std::span<const Index> from_areas) {
    leg.from_areas = from_areas;
    for (Index cat : {rider_category, kNone}) {
      FareQuote q = quote_any_network(leg, cat, fare_media, Pick::kDearest);
      if (q.priced) {
        if (!best.priced || q.amount > best.amount) best = q;
        break;
      }
      if (cat == kNone) break;
    }
  };
  consider({});
  for (const auto& set : policy_.distinct_area_sets) consider(set);
  return best;
}

}  // namespace faregate::fares
