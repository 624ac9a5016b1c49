#include "backoffice/fares/fare_engine.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <optional>
#include <thread>

namespace faregate::fares {

namespace {

constexpr std::int64_t kDayMs = 86'400'000;

// What sorting needs of a tap, packed so that the sort touches one small array.
struct SortKey {
  std::uint64_t prefix;
  std::int64_t utc_ms;
  std::uint64_t seq;
  std::uint32_t device;
  std::uint32_t tap;
};

bool leg_is_travel(LegKind k) { return !is_maximum_fare(k); }

struct CapState {
  bool open = false;
  std::int64_t window = 0;        // service day, week number or rolling window start (ms)
  std::int64_t spent = 0;
  std::int32_t paid_rides = 0;
};

// Prices the cards of one worker. Holds every per-card scratch buffer, so that a card costs no
// allocation once the buffers have grown.
class CardPricer {
 public:
  CardPricer(const FarePolicy& policy, const EngineOptions& options, Index default_media,
             const EntitlementRegistry& entitlements, std::span<const Tap> taps, PricingResult& out)
      : policy_(policy),
        options_(options),
        default_media_(default_media),
        entitlements_(entitlements),
        taps_(taps),
        out_(out),
        quoter_(policy),
        agency_clock_(&policy.time_zones[0]),
        cap_state_(policy.caps.size()) {
    builder_options_.double_tap_window_ms = options.double_tap_window_ms;
    builder_options_.max_journey_ms = options.max_journey_ms;
    builder_options_.auto_complete = options.auto_complete;
  }

  // `keys` are one card's taps in time order.
  void price_card(std::span<const SortKey> keys) {
    order_.clear();
    days_.clear();
    built_.clear();
    orphans_.clear();
    legs_.clear();
    groups_.clear();
    out_.taps += keys.size();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i > 0 && keys[i].device == keys[i - 1].device && keys[i].seq == keys[i - 1].seq &&
          keys[i].utc_ms == keys[i - 1].utc_ms) {
        // The same tap given twice (a batch resent, a store read overlapping): priced once.
        ++out_.duplicate_taps;
        continue;
      }
      order_.push_back(keys[i].tap);
      days_.push_back(agency_clock_.service_day(keys[i].utc_ms, options_.service_day_start_s));
    }
    const CardToken& card = taps_[keys.front().tap].card;
    build_legs(policy_, taps_, order_, days_, builder_options_, built_, orphans_);
    resolve_entitlements(card);
    make_legs();
    join_legs();
    quote_legs();
    apply_transfers();
    apply_caps();
    emit(card);
  }

 private:
  void resolve_entitlements(const CardToken& card) {
    entitlement_index_.clear();
    static const std::vector<Entitlement> kNoEntitlements;
    entitlement_list_ = entitlements_.size() == 0 ? &kNoEntitlements : &entitlements_.of(card);
    for (const auto& e : *entitlement_list_) {
      const Index i = policy_.rider_category_index(e.rider_category_id);
      entitlement_index_.push_back(i == kUnknown ? kNone : i);
    }
  }

  Index category_for(const BuiltLeg& b) const {
    for (std::uint32_t t : {b.entry_tap, b.exit_tap}) {
      if (t == kNoTap) continue;
      const Index c = taps_[t].rider_category;
      if (c != kNone && c < policy_.rider_categories.size()) return c;
    }
    const auto& list = *entitlement_list_;
    for (std::size_t i = list.size(); i-- > 0;) {
      if (b.service_day >= list[i].valid_from_day && b.service_day <= list[i].valid_until_day) {
        return entitlement_index_[i];
      }
    }
    return kNone;
  }

  Index media_for(const BuiltLeg& b) const {
    for (std::uint32_t t : {b.entry_tap, b.exit_tap}) {
      if (t == kNoTap) continue;
      const Index m = taps_[t].fare_media;
      if (m != kNone && m < policy_.fare_media.size()) return m;
    }
    return default_media_;
  }

  Index network_for(const BuiltLeg& b) const {
    if (b.route != kNone) return policy_.routes[b.route].network;
    // A gate without a route: the network serving both ends, when only one does.
    const auto from = b.from_stop != kNone ? policy_.networks_at(b.from_stop) : std::span<const Index>{};
    const auto to = b.to_stop != kNone ? policy_.networks_at(b.to_stop) : std::span<const Index>{};
    Index found = kNone;
    int count = 0;
    if (!from.empty() && !to.empty()) {
      for (Index n : from) {
        if (std::binary_search(to.begin(), to.end(), n)) {
          found = n;
          ++count;
        }
      }
    }
    if (count == 0) {
      // No network serves both ends (a journey auto-completed to a bus stop): the entry's
      // network is where the rider travelled, else the exit's.
      const auto& one = from.empty() ? to : from;
      if (one.size() == 1) {
        found = one[0];
        count = 1;
      }
    }
    return count == 1 ? found : kNone;
  }

  void make_legs() {
    for (const BuiltLeg& b : built_) {
      PricedLeg l;
      l.kind = b.kind;
      l.first_tap = b.entry_tap != kNoTap ? b.entry_tap : b.exit_tap;
      l.last_tap = b.exit_tap != kNoTap ? b.exit_tap : b.entry_tap;
      l.from_stop = b.from_stop;
      l.to_stop = b.to_stop;
      l.network = network_for(b);
      l.rider_category = category_for(b);
      l.fare_media = media_for(b);
      l.service_day = b.service_day;
      l.start_ms = b.start_ms;
      l.end_ms = b.end_ms;
      legs_.push_back(l);
    }
  }

  bool same_station(Index a, Index b) const {
    return a != kNone && b != kNone && policy_.stops[a].station == policy_.stops[b].station;
  }

  bool stop_is(Index stop, Index wanted) const {
    return stop != kNone && (stop == wanted || policy_.stops[stop].station == wanted);
  }

  bool joins(const PricedLeg& a, const PricedLeg& b) const {
    if (a.network == kNone || b.network == kNone) return false;
    for (const auto& r : policy_.join_rules) {
      if (r.from_network != a.network || r.to_network != b.network) continue;
      if (r.from_stop != kNone) {
        if (stop_is(a.to_stop, r.from_stop) && stop_is(b.from_stop, r.to_stop)) return true;
      } else if (same_station(a.to_stop, b.from_stop)) {
        // Without explicit stops the rider must change at one station.
        return true;
      }
    }
    return false;
  }

  // fare_leg_join_rules.txt: consecutive legs that match a join rule become one effective
  // fare leg, priced from the first leg's start to the last leg's end.
  void join_legs() {
    if (policy_.join_rules.empty() || legs_.size() < 2) return;
    std::size_t w = 0;
    for (std::size_t r = 1; r < legs_.size(); ++r) {
      PricedLeg& a = legs_[w];
      const PricedLeg& b = legs_[r];
      if (leg_is_travel(a.kind) && leg_is_travel(b.kind) && a.service_day == b.service_day &&
          a.rider_category == b.rider_category && a.fare_media == b.fare_media && joins(a, b)) {
        a.to_stop = b.to_stop;
        a.end_ms = b.end_ms;
        a.last_tap = b.last_tap;
        a.joined_legs += b.joined_legs;
        continue;
      }
      legs_[++w] = b;
    }
    legs_.resize(w + 1);
  }

  void quote_legs() {
    groups_.assign(legs_.size(), kNone);
    for (std::size_t i = 0; i < legs_.size(); ++i) {
      PricedLeg& l = legs_[i];
      FareQuote q;
      switch (l.kind) {
        case LegKind::kMissingTapOut:
        case LegKind::kOverTime:
          q = quoter_.maximum_from(l.from_stop, l.network, l.start_ms, l.rider_category, l.fare_media);
          break;
        case LegKind::kMissingTapIn:
          q = quoter_.maximum_to(l.to_stop, l.network, l.end_ms, l.rider_category, l.fare_media);
          break;
        default: {
          LegFacts f;
          f.network = l.network;
          f.from_stop = l.from_stop;
          f.to_stop = l.to_stop;
          if (l.from_stop != kNone) f.from_areas = policy_.areas_of(l.from_stop);
          if (l.to_stop != kNone) f.to_areas = policy_.areas_of(l.to_stop);
          f.start_ms = l.start_ms;
          f.end_ms = l.end_ms;
          q = quoter_.quote(f, l.rider_category, l.fare_media);
        }
      }
      l.priced = q.priced;
      l.default_category_fare = q.priced && l.rider_category != kNone && q.rider_category == kNone;
      l.fare_product = q.fare_product;
      l.leg_rule = q.rule;
      l.fare = q.priced ? q.amount : 0;
      l.charged = l.fare;
      groups_[i] = q.leg_group;
    }
  }

  bool transfer_eligible(std::size_t i) const { return legs_[i].priced && leg_is_travel(legs_[i].kind); }

  // The time a duration limit starts or ends at: departure or arrival validation of a leg.
  // A leg without an arrival validation (onboard) uses its departure.
  std::int64_t departure(std::size_t i) const { return legs_[i].start_ms; }
  std::int64_t arrival(std::size_t i) const { return legs_[i].end_ms; }

  bool group_matches(Index rule_group, Index leg_group, const std::vector<bool>& listed) const {
    if (leg_group == kNone) return false;  // a leg outside every leg group has no transfer rule
    if (rule_group != kNone) return rule_group == leg_group;
    return !listed[leg_group];  // empty: every group the file does not list in this column
  }

  // fare_transfer_rules.txt over each service day's legs, in time order.
  void apply_transfers() {
    if (policy_.transfer_rules.empty()) return;
    bool has_prev = false;
    std::size_t sub_first = 0;  // first leg of the current sub-journey
    bool chain = false;         // the previous transfer's rule pair, repeated consecutively
    Index chain_from = kNone, chain_to = kNone;
    std::size_t chain_start = 0;
    std::int32_t chain_count = 0;
    for (std::size_t j = 0; j < legs_.size(); ++j) {
      if (!transfer_eligible(j)) {
        // A leg without a fare, or with a maximum fare, breaks the journey.
        has_prev = false;
        chain = false;
        continue;
      }
      if (!has_prev || legs_[j - 1].service_day != legs_[j].service_day) {
        // Transfers never reach across service days.
        has_prev = true;
        sub_first = j;
        chain = false;
        continue;
      }
      const std::size_t i = j - 1;
      struct Choice {
        std::uint32_t rule;
        std::int64_t count_key;
        std::int64_t to_leg_amount;
        bool same_chain;
      };
      std::optional<Choice> best;
      for (std::uint32_t k = 0; k < policy_.transfer_rules.size(); ++k) {
        const FareTransferRule& r = policy_.transfer_rules[k];
        if (!group_matches(r.from_leg_group, groups_[i], policy_.from_group_listed_in_transfers)) continue;
        if (!group_matches(r.to_leg_group, groups_[j], policy_.to_group_listed_in_transfers)) continue;
        const bool same_chain = chain && r.from_leg_group == chain_from && r.to_leg_group == chain_to;
        const std::int32_t count = same_chain ? chain_count + 1 : 1;
        if (r.transfer_count > 0 && count > r.transfer_count) continue;
        if (r.duration_limit_s > 0) {
          // Measured from the first leg of the transfer sub-journey: the first leg this rule
          // matched when it has been matching consecutively.
          const std::size_t first = same_chain ? chain_start : i;
          std::int64_t from_ms = 0, to_ms = 0;
          switch (r.duration_limit_type) {
            case 0: from_ms = departure(first); to_ms = arrival(j); break;
            case 1: from_ms = departure(first); to_ms = departure(j); break;
            case 2: from_ms = arrival(first); to_ms = departure(j); break;
            default: from_ms = arrival(first); to_ms = arrival(j); break;
          }
          if (to_ms - from_ms > static_cast<std::int64_t>(r.duration_limit_s) * 1000) continue;
        }
        std::int64_t transfer_price = 0;
        if (r.fare_product != kNone) {
          const auto p = quoter_.price(r.fare_product, legs_[j].rider_category, legs_[j].fare_media);
          if (!p) continue;  // this rider cannot have that transfer product
          transfer_price = *p;
        }
        std::int64_t to_leg_amount = 0;
        switch (r.fare_transfer_type) {
          case 0:  // A + AB: the to-leg is covered by the transfer product
            to_leg_amount = transfer_price;
            break;
          case 1:  // A + AB + B
            to_leg_amount = transfer_price + legs_[j].fare;
            break;
          default:  // AB replaces A on the first transfer of a sub-journey; then S + BC
            to_leg_amount = i == sub_first ? transfer_price - legs_[i].fare : transfer_price;
            break;
        }
        // The smallest transfer_count that still covers this transfer wins; "no limit" and
        // rules without a count come last; then the cheaper outcome; then file order.
        const std::int64_t count_key = r.transfer_count > 0 ? r.transfer_count : INT64_MAX;
        if (!best || count_key < best->count_key ||
            (count_key == best->count_key && to_leg_amount < best->to_leg_amount)) {
          best = Choice{k, count_key, to_leg_amount, same_chain};
        }
      }
      if (!best) {
        // No transfer arrangement: the legs are separate journeys.
        sub_first = j;
        chain = false;
        continue;
      }
      const FareTransferRule& r = policy_.transfer_rules[best->rule];
      legs_[j].transfer_rule = best->rule;
      legs_[j].transfer_discount = legs_[j].fare - best->to_leg_amount;
      legs_[j].charged = best->to_leg_amount;
      if (best->same_chain) {
        ++chain_count;
      } else {
        chain = true;
        chain_from = r.from_leg_group;
        chain_to = r.to_leg_group;
        chain_start = i;
        chain_count = 1;
      }
    }
  }

  bool cap_applies(const FareCap& cap, const PricedLeg& l) const {
    const Index category = l.rider_category != kNone && !l.default_category_fare ? l.rider_category
                                                                                 : policy_.default_rider_category;
    if (cap.rider_category != kNone && cap.rider_category != category) return false;
    if (cap.fare_media != kNone && cap.fare_media != l.fare_media) return false;
    if (cap.network != kNone && cap.network != l.network) return false;
    return true;
  }

  // faregate_fare_caps.txt over the card's legs in time order.
  void apply_caps() {
    if (policy_.caps.empty()) return;
    std::fill(cap_state_.begin(), cap_state_.end(), CapState{});
    for (PricedLeg& l : legs_) {
      // TfL's rule: a maximum fare for an incomplete journey is neither capped nor counted.
      if (!l.priced || !leg_is_travel(l.kind)) continue;
      const std::int64_t before = l.charged;
      std::int64_t charged = before;
      Index binding = kNone;
      applicable_.clear();
      for (Index c = 0; c < policy_.caps.size(); ++c) {
        const FareCap& cap = policy_.caps[c];
        if (!cap_applies(cap, l)) continue;
        applicable_.push_back(c);
        CapState& s = cap_state_[c];
        std::int64_t window = 0;
        bool reset = false;
        switch (cap.period) {
          case CapPeriod::kServiceDay:
            window = l.service_day;
            reset = !s.open || s.window != window;
            break;
          case CapPeriod::kWeek:
            // Weeks run Monday to Sunday; day 4 (1970-01-05) was a Monday.
            window = floor_div(static_cast<std::int64_t>(l.service_day) - 4, 7);
            reset = !s.open || s.window != window;
            break;
          case CapPeriod::kRolling:
            reset = !s.open || l.start_ms >= s.window + static_cast<std::int64_t>(cap.rolling_days) * kDayMs;
            window = reset ? l.start_ms : s.window;
            break;
        }
        if (reset) s = CapState{true, window, 0, 0};
        if (before <= 0) continue;
        if (cap.has_max_amount) {
          const std::int64_t room = std::max<std::int64_t>(0, cap.max_amount - s.spent);
          if (room < charged) {
            charged = room;
            binding = c;
          }
        }
        if (cap.max_paid_rides > 0 && s.paid_rides >= cap.max_paid_rides && charged > 0) {
          charged = 0;
          binding = c;
        }
      }
      for (Index c : applicable_) {
        CapState& s = cap_state_[c];
        s.spent += charged;
        if (charged > 0) ++s.paid_rides;
      }
      l.cap_discount = before - charged;
      l.charged = charged;
      l.cap = l.cap_discount != 0 ? binding : kNone;
    }
  }

  void emit(const CardToken& card) {
    std::size_t li = 0, oi = 0;
    while (li < legs_.size() || oi < orphans_.size()) {
      const std::int32_t leg_day = li < legs_.size() ? legs_[li].service_day : INT32_MAX;
      const std::int32_t orphan_day =
          oi < orphans_.size() ? agency_clock_.service_day(taps_[orphans_[oi].tap].utc_ms, options_.service_day_start_s)
                               : INT32_MAX;
      const std::int32_t day = std::min(leg_day, orphan_day);
      CardDayResult r;
      r.card = card;
      r.service_day = day;
      r.leg_begin = static_cast<std::uint32_t>(out_.legs.size());
      r.cap_begin = static_cast<std::uint32_t>(out_.applied_caps.size());
      for (; li < legs_.size() && legs_[li].service_day == day; ++li) {
        const PricedLeg& l = legs_[li];
        out_.legs.push_back(l);
        r.fare_total += l.fare;
        r.transfer_discount += l.transfer_discount;
        r.cap_discount += l.cap_discount;
        r.total += l.charged;
        if (!l.priced) ++r.unpriced_legs;
        if (is_maximum_fare(l.kind)) ++r.maximum_fare_legs;
        if (l.cap != kNone) {
          bool found = false;
          for (std::size_t c = r.cap_begin; c < out_.applied_caps.size(); ++c) {
            if (out_.applied_caps[c].cap == l.cap) {
              out_.applied_caps[c].discount += l.cap_discount;
              found = true;
            }
          }
          if (!found) out_.applied_caps.push_back({l.cap, l.cap_discount});
        }
      }
      r.leg_count = static_cast<std::uint32_t>(out_.legs.size() - r.leg_begin);
      r.cap_count = static_cast<std::uint32_t>(out_.applied_caps.size() - r.cap_begin);
      r.orphan_begin = static_cast<std::uint32_t>(out_.orphans.size());
      while (oi < orphans_.size() &&
             agency_clock_.service_day(taps_[orphans_[oi].tap].utc_ms, options_.service_day_start_s) == day) {
        out_.orphans.push_back(orphans_[oi++]);
      }
      r.orphan_count = static_cast<std::uint32_t>(out_.orphans.size() - r.orphan_begin);
      out_.days.push_back(r);
    }
  }

  const FarePolicy& policy_;
  const EngineOptions& options_;
  Index default_media_;
  const EntitlementRegistry& entitlements_;
  std::span<const Tap> taps_;
  PricingResult& out_;
  FareQuoter quoter_;
  LocalClock agency_clock_;
  LegBuilderOptions builder_options_;

  std::vector<std::uint32_t> order_;
  std::vector<std::int32_t> days_;
  std::vector<BuiltLeg> built_;
  std::vector<OrphanTap> orphans_;
  std::vector<PricedLeg> legs_;
  std::vector<Index> groups_;
  std::vector<CapState> cap_state_;
  std::vector<Index> applicable_;
  const std::vector<Entitlement>* entitlement_list_ = nullptr;
  std::vector<Index> entitlement_index_;
};

// Orders by token prefix, then time, device and seq: comparisons never read the taps. Two
// different cards sharing a prefix (short tool tokens; for HMAC tokens, a 1 in 2^64 chance) are
// separated afterwards by split_shared_prefixes().
bool key_less(const SortKey& a, const SortKey& b) {
  if (a.prefix != b.prefix) return a.prefix < b.prefix;
  if (a.utc_ms != b.utc_ms) return a.utc_ms < b.utc_ms;
  if (a.device != b.device) return a.device < b.device;
  if (a.seq != b.seq) return a.seq < b.seq;
  return a.tap < b.tap;
}

// Within each run of equal prefixes, groups taps by their full token (keeping time order).
void split_shared_prefixes(std::vector<SortKey>& keys, std::span<const Tap> taps) {
  std::size_t begin = 0;
  while (begin < keys.size()) {
    std::size_t end = begin + 1;
    bool mixed = false;
    const CardToken& first = taps[keys[begin].tap].card;
    while (end < keys.size() && keys[end].prefix == keys[begin].prefix) {
      mixed |= !(taps[keys[end].tap].card == first);
      ++end;
    }
    if (mixed) {
      std::stable_sort(keys.begin() + static_cast<std::ptrdiff_t>(begin), keys.begin() + static_cast<std::ptrdiff_t>(end),
                       [&](const SortKey& a, const SortKey& b) { return taps[a.tap].card < taps[b.tap].card; });
    }
    begin = end;
  }
}

bool same_card(const SortKey& a, const SortKey& b, std::span<const Tap> taps) {
  return a.prefix == b.prefix && taps[a.tap].card == taps[b.tap].card;
}

// Sorted prefix as an integer that orders like the token's bytes (big-endian).
std::uint64_t order_prefix(const CardToken& t) {
  std::uint64_t p = 0;
  const auto bytes = t.bytes();
  for (std::size_t i = 0; i < 8; ++i) p = (p << 8) | (i < bytes.size() ? bytes[i] : 0);
  return p;
}

}  // namespace

FareEngine::FareEngine(const FarePolicy& policy, EngineOptions options) : policy_(policy), options_(options) {
  if (options_.default_fare_media == kNone) {
    Index cemv = kNone;
    int count = 0;
    for (Index i = 0; i < policy_.fare_media.size(); ++i) {
      if (policy_.fare_media[i].type == 3) {
        cemv = i;
        ++count;
      }
    }
    if (count == 1) options_.default_fare_media = cemv;
  }
  if (options_.threads == 0) options_.threads = 1;
}

PricingResult FareEngine::price(std::span<const Tap> taps, const EntitlementRegistry& entitlements) const {
  PricingResult result;
  result.currency = policy_.currency;
  if (taps.empty()) return result;

  std::vector<SortKey> keys(taps.size());
  for (std::uint32_t i = 0; i < taps.size(); ++i) {
    keys[i] = SortKey{order_prefix(taps[i].card), taps[i].utc_ms, taps[i].seq, taps[i].device, i};
  }
  auto less = [](const SortKey& a, const SortKey& b) { return key_less(a, b); };
  const unsigned threads = std::min<unsigned>(options_.threads, std::max<std::size_t>(1, taps.size() / 10000));
  if (threads > 1) {
    // Sort halves in parallel, then merge: the sort is the largest single step.
    const auto mid = keys.begin() + static_cast<std::ptrdiff_t>(keys.size() / 2);
    std::thread left([&] { std::sort(keys.begin(), mid, less); });
    std::sort(mid, keys.end(), less);
    left.join();
    std::inplace_merge(keys.begin(), mid, keys.end(), less);
  } else {
    std::sort(keys.begin(), keys.end(), less);
  }
  split_shared_prefixes(keys, taps);

  // Split into per-worker ranges of whole cards.
  std::vector<std::size_t> bounds{0};
  for (unsigned w = 1; w < threads; ++w) {
    std::size_t cut = std::max(bounds.back(), keys.size() * w / threads);
    while (cut > bounds.back() && cut < keys.size() && same_card(keys[cut - 1], keys[cut], taps)) ++cut;
    bounds.push_back(cut);
  }
  bounds.push_back(keys.size());

  std::vector<PricingResult> parts(bounds.size() - 1);
  auto work = [&](std::size_t part) {
    PricingResult& out = parts[part];
    const std::size_t share = bounds[part + 1] - bounds[part];
    out.legs.reserve(share * 3 / 5 + 16);
    out.days.reserve(share / 4 + 16);
    CardPricer pricer(policy_, options_, options_.default_fare_media, entitlements, taps, out);
    std::size_t begin = bounds[part];
    const std::size_t end = bounds[part + 1];
    while (begin < end) {
      std::size_t stop = begin + 1;
      while (stop < end && same_card(keys[begin], keys[stop], taps)) ++stop;
      pricer.price_card(std::span<const SortKey>(keys.data() + begin, stop - begin));
      begin = stop;
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t p = 1; p < parts.size(); ++p) workers.emplace_back(work, p);
  work(0);
  for (auto& t : workers) t.join();
  keys.clear();
  keys.shrink_to_fit();

  if (parts.size() == 1) {
    PricingResult& only = parts[0];
    only.currency = policy_.currency;
    return std::move(only);
  }
  std::size_t days = 0, legs = 0, orphans = 0, caps = 0;
  for (const auto& p : parts) {
    days += p.days.size();
    legs += p.legs.size();
    orphans += p.orphans.size();
    caps += p.applied_caps.size();
  }
  result.days.reserve(days);
  result.legs.reserve(legs);
  result.orphans.reserve(orphans);
  result.applied_caps.reserve(caps);
  for (auto& p : parts) {
    const auto leg_offset = static_cast<std::uint32_t>(result.legs.size());
    const auto orphan_offset = static_cast<std::uint32_t>(result.orphans.size());
    const auto cap_offset = static_cast<std::uint32_t>(result.applied_caps.size());
    for (auto d : p.days) {
      d.leg_begin += leg_offset;
      d.orphan_begin += orphan_offset;
      d.cap_begin += cap_offset;
      result.days.push_back(d);
    }
    result.legs.insert(result.legs.end(), p.legs.begin(), p.legs.end());
    result.orphans.insert(result.orphans.end(), p.orphans.begin(), p.orphans.end());
    result.applied_caps.insert(result.applied_caps.end(), p.applied_caps.begin(), p.applied_caps.end());
    result.taps += p.taps;
    result.duplicate_taps += p.duplicate_taps;
    p = PricingResult{};
  }
  return result;
}

}  // namespace faregate::fares
