#include "backoffice/fares/leg_builder.h"


namespace faregate::fares {

const char* to_string(LegKind kind) {
  switch (kind) {
    case LegKind::kComplete: return "complete";
    case LegKind::kOnboard: return "onboard";
    case LegKind::kAutoCompletedTapOut: return "auto_completed_tap_out";
    case LegKind::kAutoCompletedTapIn: return "auto_completed_tap_in";
    case LegKind::kMissingTapOut: return "missing_tap_out";
    case LegKind::kMissingTapIn: return "missing_tap_in";
    case LegKind::kOverTime: return "over_time";
  }
  return "unknown";
}

const char* to_string(OrphanReason reason) {
  switch (reason) {
    case OrphanReason::kUnknownStop: return "unknown_stop";
    case OrphanReason::kUnknownRoute: return "unknown_route";
    case OrphanReason::kDoubleTap: return "double_tap";
  }
  return "unknown";
}

void build_legs(const FarePolicy& policy, std::span<const Tap> taps, std::span<const std::uint32_t> order,
                std::span<const std::int32_t> service_days, const LegBuilderOptions& options,
                std::vector<BuiltLeg>& legs, std::vector<OrphanTap>& orphans) {
  // Positions (into `order`) of the pending entry and of the previous kept tap.
  // (std::optional here trips g++ 12's -Wmaybe-uninitialized at -O2; a sentinel does not.)
  constexpr std::size_t kNoPos = static_cast<std::size_t>(-1);
  std::size_t pending = kNoPos;
  std::size_t previous = kNoPos;

  auto tap_at = [&](std::size_t pos) -> const Tap& { return taps[order[pos]]; };

  auto close_missing_tap_out = [&](std::size_t entry_pos, std::size_t next_pos) {
    const Tap& e = tap_at(entry_pos);
    BuiltLeg leg;
    leg.entry_tap = order[entry_pos];
    leg.from_stop = e.stop;
    leg.start_ms = e.utc_ms;
    leg.end_ms = e.utc_ms;
    leg.route = e.route;
    leg.service_day = service_days[entry_pos];
    if (options.auto_complete && next_pos != kNoPos && service_days[next_pos] == service_days[entry_pos] &&
        tap_at(next_pos).role != TapRole::kExit) {
      // The rider's next tap is at another entry or on a vehicle: that is where they left.
      leg.kind = LegKind::kAutoCompletedTapOut;
      leg.to_stop = tap_at(next_pos).stop;
      leg.end_ms = tap_at(next_pos).utc_ms;
    } else {
      leg.kind = LegKind::kMissingTapOut;
    }
    legs.push_back(leg);
  };

  for (std::size_t pos = 0; pos < order.size(); ++pos) {
    const Tap& t = tap_at(pos);
    if (t.stop == kUnknown || t.stop == kNone || t.stop >= policy.stops.size()) {
      orphans.push_back({order[pos], OrphanReason::kUnknownStop});
      continue;
    }
    if (t.route == kUnknown || (t.route != kNone && t.route >= policy.routes.size())) {
      orphans.push_back({order[pos], OrphanReason::kUnknownRoute});
      continue;
    }
    if (previous != kNoPos) {
      const Tap& p = tap_at(previous);
      if (p.role == t.role && policy.stops[p.stop].station == policy.stops[t.stop].station && p.route == t.route &&
          t.utc_ms - p.utc_ms <= options.double_tap_window_ms) {
        // The card was presented twice (a reader's beep missed, a second reader of the same
        // gate line): one journey, not two.
        orphans.push_back({order[pos], OrphanReason::kDoubleTap});
        continue;
      }
    }
    switch (t.role) {
      case TapRole::kEntry:
        if (pending != kNoPos) close_missing_tap_out(pending, pos);
        pending = pos;
        break;
      case TapRole::kExit: {
        BuiltLeg leg;
        leg.exit_tap = order[pos];
        leg.to_stop = t.stop;
        leg.end_ms = t.utc_ms;
        leg.has_end_validation = true;
        if (pending != kNoPos) {
          const Tap& e = tap_at(pending);
          leg.entry_tap = order[pending];
          leg.from_stop = e.stop;
          leg.start_ms = e.utc_ms;
          leg.route = e.route != kNone ? e.route : t.route;
          leg.service_day = service_days[pending];
          leg.kind = t.utc_ms - e.utc_ms <= options.max_journey_ms ? LegKind::kComplete : LegKind::kOverTime;
          pending = kNoPos;
        } else {
          leg.route = t.route;
          leg.service_day = service_days[pos];
          const bool evident = options.auto_complete && previous != kNoPos &&
                               tap_at(previous).role == TapRole::kExit && service_days[previous] == service_days[pos];
          if (evident) {
            // Tapped out at B, then out at C without tapping in: the rider re-entered at B.
            leg.kind = LegKind::kAutoCompletedTapIn;
            leg.from_stop = tap_at(previous).stop;
            leg.start_ms = tap_at(previous).utc_ms;
          } else {
            leg.kind = LegKind::kMissingTapIn;
            leg.start_ms = t.utc_ms;
          }
        }
        legs.push_back(leg);
        break;
      }
      case TapRole::kOnboard: {
        if (pending != kNoPos) {
          close_missing_tap_out(pending, pos);
          pending = kNoPos;
        }
        BuiltLeg leg;
        leg.kind = LegKind::kOnboard;
        leg.entry_tap = order[pos];
        leg.from_stop = t.stop;
        leg.start_ms = t.utc_ms;
        leg.end_ms = t.utc_ms;
        leg.route = t.route;
        leg.service_day = service_days[pos];
        legs.push_back(leg);
        break;
      }
    }
    previous = pos;
  }
  if (pending != kNoPos) close_missing_tap_out(pending, kNoPos);
}

}  // namespace faregate::fares
