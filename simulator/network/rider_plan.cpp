#include "simulator/network/rider_plan.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>

#include "common/crypto.h"
#include "simulator/cards/card_catalog.h"

namespace faregate::simulator {

namespace {

constexpr std::int64_t kMinute = 60'000;
// Between the end of one journey and the start of the next, and between two legs.
constexpr std::int64_t kMinStayMs = 10 * kMinute;
constexpr std::int64_t kMinTransferMs = 2 * kMinute;
constexpr std::int64_t kMaxTransferMs = 6 * kMinute;
constexpr std::size_t kRail = static_cast<std::size_t>(-1);

std::int64_t uniform_between(crypto::Drbg& rng, std::int64_t lo, std::int64_t hi) {
  if (hi <= lo) return lo;
  return lo + static_cast<std::int64_t>(rng.uniform(static_cast<std::uint64_t>(hi - lo + 1)));
}

std::string pick_card_kind(const RiderGroup& g, crypto::Drbg& rng) {
  std::uint64_t total = 0;
  for (const auto& [kind, weight] : g.card_mix) total += static_cast<std::uint64_t>(weight);
  auto roll = rng.uniform(total);
  for (const auto& [kind, weight] : g.card_mix) {
    if (roll < static_cast<std::uint64_t>(weight)) return kind;
    roll -= static_cast<std::uint64_t>(weight);
  }
  return g.card_mix.begin()->first;
}

// One leg of a journey: by rail between two stations, or by bus on one route.
struct Hop {
  std::size_t route = kRail;  // index into Scenario::routes, or kRail
  std::size_t from = 0;       // place indexes
  std::size_t to = 0;
};

// The network as a graph of places, and the fewest-leg route between two of them.
class Planner {
 public:
  explicit Planner(const Scenario& s) : s_(s), places_(s.places()) {
    for (std::size_t i = 0; i < places_.size(); ++i) index_[places_[i]] = i;
    is_station_.assign(places_.size(), false);
    for (const auto& st : s.stations) is_station_[index_[st]] = true;
    routes_at_.resize(places_.size());
    stop_position_.resize(s.routes.size());
    for (std::size_t r = 0; r < s.routes.size(); ++r) {
      for (std::size_t k = 0; k < s.routes[r].stops.size(); ++k) {
        const std::size_t p = index_[s.routes[r].stops[k]];
        routes_at_[p].push_back(r);
        stop_position_[r][p] = k;
      }
    }
  }

  const std::vector<std::string>& places() const { return places_; }
  std::size_t index(const std::string& place) const { return index_.at(place); }
  bool is_station(std::size_t p) const { return is_station_[p]; }
  std::size_t stop_position(std::size_t route, std::size_t place) const {
    return stop_position_[route].at(place);
  }

  // Breadth-first over places: fewest legs, ties broken by place order (deterministic).
  const std::vector<Hop>& journey(std::size_t from, std::size_t to) {
    const auto key = std::make_pair(from, to);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    std::vector<std::optional<Hop>> via(places_.size());
    std::vector<bool> seen(places_.size(), false);
    std::deque<std::size_t> queue{from};
    seen[from] = true;
    auto visit = [&](std::size_t u, std::size_t v, std::size_t route) {
      if (seen[v]) return;
      seen[v] = true;
      via[v] = Hop{route, u, v};
      queue.push_back(v);
    };
    while (!queue.empty() && !seen[to]) {
      const std::size_t u = queue.front();
      queue.pop_front();
      if (is_station_[u]) {
        for (const auto& st : s_.stations) visit(u, index_[st], kRail);
      }
      for (std::size_t r : routes_at_[u]) {
        for (const auto& stop : s_.routes[r].stops) visit(u, index_[stop], r);
      }
    }
    std::vector<Hop> hops;
    for (std::size_t p = to; p != from && via[p];) {
      hops.push_back(*via[p]);
      p = via[p]->from;
    }
    std::reverse(hops.begin(), hops.end());
    return cache_[key] = std::move(hops);
  }

 private:
  const Scenario& s_;
  std::vector<std::string> places_;
  std::map<std::string, std::size_t> index_;
  std::vector<bool> is_station_;
  std::vector<std::vector<std::size_t>> routes_at_;
  std::vector<std::map<std::size_t, std::size_t>> stop_position_;
  std::map<std::pair<std::size_t, std::size_t>, std::vector<Hop>> cache_;
};

class DayPlanner {
 public:
  DayPlanner(const Scenario& s, NetworkPlan& plan) : s_(s), plan_(plan), planner_(s), rng_(crypto::Drbg::deterministic(s.seed)) {
    // Validator layout: per station, its entry gate line then its exit gate line; then one
    // onboard validator per vehicle of each route.
    entries_.resize(planner_.places().size());
    exits_.resize(planner_.places().size());
    for (const auto& st : s.stations) {
      const std::size_t p = planner_.index(st);
      for (int i = 1; i <= s.entry_validators_per_station; ++i) {
        entries_[p].push_back(plan.validators.size());
        plan.validators.push_back({st + "-entry-" + std::to_string(i), st, ValidatorKind::kEntry, ""});
      }
      for (int i = 1; i <= s.exit_validators_per_station; ++i) {
        exits_[p].push_back(plan.validators.size());
        plan.validators.push_back({st + "-exit-" + std::to_string(i), st, ValidatorKind::kExit, ""});
      }
    }
    vehicles_.resize(s.routes.size());
    for (std::size_t r = 0; r < s.routes.size(); ++r) {
      const auto& route = s.routes[r];
      for (int v = 1; v <= route.vehicles; ++v) {
        vehicles_[r].push_back(plan.validators.size());
        plan.validators.push_back({"bus-" + route.id + "-" + std::to_string(v), route.stops.front(),
                                   ValidatorKind::kOnboard, route.id});
      }
    }
    for (const auto& kind : card_kinds()) {
      kinds_[kind.name] = {kind.expect == "accept", kind.reason};
    }
  }

  void plan_rider(std::size_t group_index, std::uint64_t rider_number) {
    const RiderGroup& g = s_.groups[group_index];
    const std::size_t rider = plan_.riders.size();
    RiderSpec spec;
    spec.card_kind = pick_card_kind(g, rng_);
    spec.card_seed = s_.seed * 1'000'003ULL + rider_number;
    spec.group = group_index;
    if (auto it = kinds_.find(spec.card_kind); it != kinds_.end()) {
      spec.expect_accept = it->second.first;
      spec.expect_reason = it->second.second;
    } else {
      spec.expect_accept = false;
    }
    const std::size_t home = pick_place(g.homes, std::nullopt);
    const std::size_t work = pick_place(g.works, home);
    spec.home = planner_.places()[home];
    spec.work = planner_.places()[work];
    plan_.riders.push_back(std::move(spec));

    const int trips = static_cast<int>(uniform_between(rng_, g.min_trips, g.max_trips));
    if (g.pattern == TravelPattern::kHomeWork) {
      plan_home_work(rider, g, home, work, trips);
    } else {
      plan_wander(rider, g, home, trips);
    }
  }

 private:
  std::size_t pick_place(const std::vector<std::string>& choices, std::optional<std::size_t> not_this) {
    const auto& all = planner_.places();
    for (int attempt = 0; attempt < 16; ++attempt) {
      const std::size_t p = choices.empty()
                                ? static_cast<std::size_t>(rng_.uniform(all.size()))
                                : planner_.index(choices[rng_.uniform(choices.size())]);
      if (p != not_this) return p;
    }
    // The choices hold only `not_this`: any other place.
    return (*not_this + 1 + rng_.uniform(all.size() - 1)) % all.size();
  }

  std::size_t random_other_place(std::size_t not_this) {
    const auto n = planner_.places().size();
    return (not_this + 1 + rng_.uniform(n - 1)) % n;
  }

  void add_tap(std::int64_t t, std::size_t validator, std::size_t rider) {
    plan_.taps.push_back({t, validator, rider, plan_.riders[rider].taps++});
  }

  // Plans one journey departing at `depart`; returns its arrival time, or nullopt (and plans
  // nothing) when it would end after the service day.
  std::optional<std::int64_t> journey(std::size_t rider, const RiderGroup& g, std::size_t from,
                                      std::size_t to, std::int64_t depart) {
    const auto& hops = planner_.journey(from, to);
    if (hops.empty()) return std::nullopt;
    struct Tap {
      std::int64_t t;
      std::size_t validator;
    };
    std::vector<Tap> taps;
    std::uint64_t rail = 0, bus = 0, forgotten = 0;
    std::int64_t t = depart;
    for (std::size_t h = 0; h < hops.size(); ++h) {
      const Hop& hop = hops[h];
      if (h > 0) t += uniform_between(rng_, kMinTransferMs, kMaxTransferMs);
      if (hop.route == kRail) {
        const auto& in_line = entries_[hop.from];
        const auto& out_line = exits_[hop.to];
        taps.push_back({t, in_line[rng_.uniform(in_line.size())]});
        t += uniform_between(rng_, s_.min_travel_minutes * kMinute, s_.max_travel_minutes * kMinute);
        if (static_cast<int>(rng_.uniform(100)) < g.forget_tap_out_percent) {
          ++forgotten;
        } else {
          taps.push_back({t, out_line[rng_.uniform(out_line.size())]});
        }
        ++rail;
      } else {
        const auto& fleet = vehicles_[hop.route];
        taps.push_back({t, fleet[rng_.uniform(fleet.size())]});
        const auto a = planner_.stop_position(hop.route, hop.from);
        const auto b = planner_.stop_position(hop.route, hop.to);
        const auto stops = static_cast<std::int64_t>(a > b ? a - b : b - a);
        t += stops * s_.routes[hop.route].minutes_between_stops * kMinute;
        ++bus;
      }
    }
    if (t > s_.day_end_utc_ms) return std::nullopt;
    ++plan_.trips;
    if (!plan_.riders[rider].expect_accept) {
      // Refused at the first validator: the rider does not travel with the network.
      add_tap(taps.front().t, taps.front().validator, rider);
      ++plan_.refused_trips;
      return t;
    }
    for (const Tap& tap : taps) add_tap(tap.t, tap.validator, rider);
    plan_.rail_legs += rail;
    plan_.bus_legs += bus;
    plan_.forgotten_tap_outs += forgotten;
    return t;
  }

  void plan_home_work(std::size_t rider, const RiderGroup& g, std::size_t home, std::size_t work,
                      int trips) {
    // To work in the morning peak; errands (trips beyond two) between; home in the evening peak.
    const std::int64_t evening =
        uniform_between(rng_, s_.evening_start_utc_ms, s_.evening_end_utc_ms);
    std::int64_t depart = uniform_between(rng_, s_.morning_start_utc_ms, s_.morning_end_utc_ms);
    auto arrive = journey(rider, g, home, work, depart);
    if (!arrive || trips == 1) return;
    std::size_t at = work;
    depart = *arrive + kMinStayMs;
    const int errands = trips - 2;
    for (int k = 0; k < errands; ++k) {
      const std::int64_t room = std::max<std::int64_t>(evening - depart, 0);
      depart += uniform_between(rng_, 0, room / (errands - k + 1));
      if (depart >= evening) break;  // no time left: straight home
      const std::size_t next = random_other_place(at);
      arrive = journey(rider, g, at, next, depart);
      if (!arrive) return;
      at = next;
      depart = *arrive + kMinStayMs;
    }
    if (at == home) return;
    (void)journey(rider, g, at, home, std::max(depart, evening));
  }

  void plan_wander(std::size_t rider, const RiderGroup& g, std::size_t start, int trips) {
    // The day cut into one slot per trip; each trip starts where the last one ended.
    const std::int64_t max_journey = 3 * s_.max_travel_minutes * kMinute + 2 * kMaxTransferMs;
    const std::int64_t window =
        std::max<std::int64_t>(s_.day_end_utc_ms - s_.day_start_utc_ms - max_journey, 0) / trips;
    std::size_t at = start;
    std::int64_t earliest = s_.day_start_utc_ms;
    for (int t = 0; t < trips; ++t) {
      const std::int64_t slot_start = std::max(s_.day_start_utc_ms + t * window, earliest);
      const std::int64_t depart = uniform_between(
          rng_, slot_start, slot_start + std::max<std::int64_t>(window - max_journey - kMinStayMs, 0));
      const std::size_t next = random_other_place(at);
      auto arrive = journey(rider, g, at, next, depart);
      if (!arrive) return;
      at = next;
      earliest = *arrive + kMinStayMs;
    }
  }

  const Scenario& s_;
  NetworkPlan& plan_;
  Planner planner_;
  crypto::Drbg rng_;
  std::vector<std::vector<std::size_t>> entries_, exits_, vehicles_;
  std::map<std::string, std::pair<bool, std::string>> kinds_;
};

}  // namespace

NetworkPlan plan_network(const Scenario& s) {
  NetworkPlan plan;
  DayPlanner day(s, plan);
  std::uint64_t number = 0;
  for (std::size_t g = 0; g < s.groups.size(); ++g) {
    for (int r = 0; r < s.groups[g].count; ++r) day.plan_rider(g, number++);
  }
  std::stable_sort(plan.taps.begin(), plan.taps.end(),
                   [](const TapEvent& a, const TapEvent& b) { return a.time_utc_ms < b.time_utc_ms; });
  return plan;
}

}  // namespace faregate::simulator
