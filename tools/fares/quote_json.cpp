#include "tools/fares/quote_json.h"

#include <algorithm>
#include <unordered_map>

#include "backoffice/fares/local_time.h"

namespace faregate::fares::cli {

namespace {

using Json = nlohmann::ordered_json;

Json id_or_null(const Interner& ids, Index i) {
  if (i == kNone || i == kUnknown || i >= ids.size()) return nullptr;
  return ids.name(i);
}

}  // namespace

std::vector<Json> quote_objects(const PricingResult& result, const FarePolicy& policy, const TapFile& taps) {
  std::unordered_map<CardToken, std::size_t, CardTokenHash> first_seen;
  for (std::size_t i = 0; i < taps.taps.size(); ++i) first_seen.emplace(taps.taps[i].card, i);
  std::vector<const CardDayResult*> days;
  for (const auto& d : result.days) days.push_back(&d);
  std::stable_sort(days.begin(), days.end(), [&](const CardDayResult* a, const CardDayResult* b) {
    const auto fa = first_seen[a->card], fb = first_seen[b->card];
    return fa != fb ? fa < fb : a->service_day < b->service_day;
  });
  LocalClock clock(&policy.time_zones[0]);
  auto time_text = [&](std::int64_t ms) { return format_iso8601(ms, clock.offset_at(ms)); };

  std::vector<Json> out;
  for (const CardDayResult* d : days) {
    Json o;
    o["card"] = taps.cards[first_seen[d->card]];
    o["service_day"] = format_date(d->service_day);
    Json legs = Json::array();
    for (const auto& l : result.legs_of(*d)) {
      Json leg;
      leg["from_stop"] = id_or_null(policy.stop_ids, l.from_stop);
      leg["to_stop"] = id_or_null(policy.stop_ids, l.to_stop);
      leg["fare_product"] = id_or_null(policy.fare_products_ids, l.fare_product);
      leg["amount"] = l.fare;
      leg["kind"] = to_string(l.kind);
      leg["start"] = time_text(l.start_ms);
      if (l.last_tap != kNoTap && l.last_tap != l.first_tap) leg["end"] = time_text(l.end_ms);
      leg["network"] = id_or_null(policy.network_ids, l.network);
      leg["rider_category"] = id_or_null(policy.rider_categories_ids, l.rider_category);
      if (l.joined_legs > 1) leg["joined_legs"] = l.joined_legs;
      if (l.leg_rule != kNoRule) leg["fare_leg_rule_line"] = policy.leg_rules[l.leg_rule].line;
      leg["transfer_discount"] = l.transfer_discount;
      if (l.transfer_rule != kNoRule) leg["fare_transfer_rule_line"] = policy.transfer_rules[l.transfer_rule].line;
      leg["cap_discount"] = l.cap_discount;
      if (l.cap != kNone) leg["cap_id"] = policy.cap_ids.name(policy.caps[l.cap].cap_id);
      leg["charged"] = l.charged;
      if (!l.priced) leg["unpriced"] = true;
      legs.push_back(std::move(leg));
    }
    o["legs"] = std::move(legs);
    o["transfer_discount"] = d->transfer_discount;
    o["cap_discount"] = d->cap_discount;
    o["total"] = d->total;
    o["currency"] = std::string(result.currency.empty() ? "" : result.currency.str());
    o["fare_total"] = d->fare_total;
    if (d->cap_count > 0) {
      Json caps = Json::array();
      for (const auto& c : result.caps_of(*d)) {
        caps.push_back(Json{{"cap_id", policy.cap_ids.name(policy.caps[c.cap].cap_id)}, {"discount", c.discount}});
      }
      o["caps_applied"] = std::move(caps);
    }
    if (d->unpriced_legs > 0) o["unpriced_legs"] = d->unpriced_legs;
    if (d->orphan_count > 0) {
      Json orphans = Json::array();
      for (const auto& orphan : result.orphans_of(*d)) {
        orphans.push_back(Json{{"line", taps.lines[orphan.tap]},
                               {"time", time_text(taps.taps[orphan.tap].utc_ms)},
                               {"stop_id", taps.stop_ids[orphan.tap]},
                               {"reason", to_string(orphan.reason)}});
      }
      o["orphan_taps"] = std::move(orphans);
    }
    out.push_back(std::move(o));
  }
  return out;
}

void write_quote_lines(const PricingResult& result, const FarePolicy& policy, const TapFile& taps, std::ostream& out) {
  for (const auto& o : quote_objects(result, policy, taps)) out << o.dump() << '\n';
}

}  // namespace faregate::fares::cli
