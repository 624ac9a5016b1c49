#include "simulator/network/rider_plan.h"

#include <algorithm>

#include "common/crypto.h"

namespace faregate::simulator {

namespace {

constexpr std::int64_t kMinute = 60'000;

std::string pick_card_kind(const Scenario& s, crypto::Drbg& rng) {
  int total = 0;
  for (const auto& [kind, weight] : s.card_mix) total += weight;
  auto roll = static_cast<int>(rng.uniform(static_cast<std::uint64_t>(total)));
  for (const auto& [kind, weight] : s.card_mix) {
    if (roll < weight) return kind;
    roll -= weight;
  }
  return s.card_mix.begin()->first;
}

std::int64_t uniform_between(crypto::Drbg& rng, std::int64_t lo, std::int64_t hi) {
  if (hi <= lo) return lo;
  return lo + static_cast<std::int64_t>(rng.uniform(static_cast<std::uint64_t>(hi - lo + 1)));
}

}  // namespace

NetworkPlan plan_network(const Scenario& s) {
  NetworkPlan plan;
  auto rng = crypto::Drbg::deterministic(s.seed);

  // Validator layout: per station, its entry gate line then its exit gate line.
  std::vector<std::vector<std::size_t>> entries(s.stations.size()), exits(s.stations.size());
  for (std::size_t st = 0; st < s.stations.size(); ++st) {
    for (int i = 1; i <= s.entry_validators_per_station; ++i) {
      entries[st].push_back(plan.validators.size());
      plan.validators.push_back({s.stations[st] + "-entry-" + std::to_string(i), s.stations[st], true});
    }
    for (int i = 1; i <= s.exit_validators_per_station; ++i) {
      exits[st].push_back(plan.validators.size());
      plan.validators.push_back({s.stations[st] + "-exit-" + std::to_string(i), s.stations[st], false});
    }
  }

  const std::int64_t max_travel = s.max_travel_minutes * kMinute;
  for (int r = 0; r < s.riders; ++r) {
    const std::size_t rider = plan.riders.size();
    plan.riders.push_back({pick_card_kind(s, rng), s.seed * 1'000'003ULL + static_cast<std::uint64_t>(r)});

    // A home/work pattern: each trip starts where the last one ended.
    const int trips = static_cast<int>(uniform_between(rng, s.min_trips_per_rider, s.max_trips_per_rider));
    const std::int64_t window = (s.day_end_utc_ms - s.day_start_utc_ms - max_travel) / trips;
    auto station = static_cast<std::size_t>(rng.uniform(s.stations.size()));
    for (int t = 0; t < trips; ++t) {
      const std::int64_t slot_start = s.day_start_utc_ms + t * window;
      // Leave at least ten minutes at the end of each slot so trips never overlap.
      const std::int64_t depart =
          uniform_between(rng, slot_start, slot_start + std::max<std::int64_t>(window - max_travel - 10 * kMinute, 0));
      const std::int64_t arrive =
          depart + uniform_between(rng, s.min_travel_minutes * kMinute, max_travel);
      auto destination = static_cast<std::size_t>(rng.uniform(s.stations.size() - 1));
      if (destination >= station) ++destination;

      const auto& in_line = entries[station];
      const auto& out_line = exits[destination];
      plan.taps.push_back({depart, in_line[rng.uniform(in_line.size())], rider});
      if (static_cast<int>(rng.uniform(100)) < s.forget_tap_out_percent) {
        ++plan.forgotten_tap_outs;
      } else {
        plan.taps.push_back({arrive, out_line[rng.uniform(out_line.size())], rider});
      }
      ++plan.trips;
      station = destination;
    }
  }
  std::stable_sort(plan.taps.begin(), plan.taps.end(),
                   [](const TapEvent& a, const TapEvent& b) { return a.time_utc_ms < b.time_utc_ms; });
  return plan;
}

}  // namespace faregate::simulator
