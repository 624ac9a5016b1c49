#pragma once
// Legs from taps: one card's taps, in time order, become legs (entry paired with exit, single
// onboard taps) and orphan taps (taps that cannot be part of a leg). Part of the fare engine;
// public so that reconciliation can explain what became of every tap.
//
// Rules, in the order they apply (docs/fare_engine.md gives the reasons):
// - a tap naming a stop or route the feed does not know is an orphan (unknown_stop,
//   unknown_route), never guessed;
// - a tap repeating the previous kept tap (same role, same station, same route) within
//   double_tap_window_ms is an accidental double tap: an orphan (double_tap);
// - entry then exit within max_journey_ms is a complete leg; further apart, an over_time leg
//   (charged the maximum fare from the entry);
// - an entry followed by no exit is a missing tap-out. When the card's next tap is an entry or
//   an onboard tap on the same service day, the rider evidently left the system there: the leg
//   is auto-completed to that stop. Otherwise it is charged the maximum fare from the entry;
// - an exit without an entry is a missing tap-in. When the card's previous tap is an exit on
//   the same service day, the rider evidently re-entered where they had left: the leg is
//   auto-completed from that stop. Otherwise it is charged the maximum fare to the exit;
// - an onboard tap is one leg on its route.

#include <cstdint>
#include <span>
#include <vector>

#include "backoffice/fares/fare_policy.h"
#include "backoffice/fares/tap.h"

namespace faregate::fares {

inline constexpr std::uint32_t kNoTap = 0xFFFFFFFFu;

enum class LegKind : std::uint8_t {
  kComplete,             // entry and exit
  kOnboard,              // one onboard tap
  kAutoCompletedTapOut,  // entry; exit inferred from the next tap
  kAutoCompletedTapIn,   // exit; entry inferred from the previous exit
  kMissingTapOut,        // entry only: maximum fare from the entry
  kMissingTapIn,         // exit only: maximum fare to the exit
  kOverTime,             // entry and exit beyond max_journey_ms: maximum fare from the entry
};
const char* to_string(LegKind kind);
// True for the kinds charged a maximum fare (they never count toward a cap).
inline bool is_maximum_fare(LegKind k) {
  return k == LegKind::kMissingTapOut || k == LegKind::kMissingTapIn || k == LegKind::kOverTime;
}

enum class OrphanReason : std::uint8_t { kUnknownStop, kUnknownRoute, kDoubleTap };
const char* to_string(OrphanReason reason);

struct BuiltLeg {
  LegKind kind = LegKind::kOnboard;
  std::uint32_t entry_tap = kNoTap;  // index into the taps span; kNoTap when missing
  std::uint32_t exit_tap = kNoTap;
  Index from_stop = kNone;           // kNone when unknown (missing tap-in)
  Index to_stop = kNone;             // kNone when unknown (onboard, missing tap-out)
  // First known tap's time; for an auto-completed tap-in, the previous exit's time.
  std::int64_t start_ms = 0;
  // Exit validation time; the start time when there is none (onboard, missing tap-out), the
  // next tap's time for an auto-completed tap-out.
  std::int64_t end_ms = 0;
  bool has_end_validation = false;
  Index route = kNone;               // the entry tap's route, else the exit tap's
  std::int32_t service_day = 0;      // of its first real tap
};

struct OrphanTap {
  std::uint32_t tap = kNoTap;  // index into the taps span
  OrphanReason reason = OrphanReason::kUnknownStop;
};

struct LegBuilderOptions {
  std::int64_t double_tap_window_ms = 60'000;
  std::int64_t max_journey_ms = 3 * 3600 * 1000;
  bool auto_complete = true;
};

// Requires: `order` holds the indexes (into `taps`) of one card's taps sorted by time, with
// duplicates of the same (device, seq) removed; service_days[i] is the service day of
// taps[order[i]]. Appends to `legs` and `orphans`; never throws on data.
void build_legs(const FarePolicy& policy, std::span<const Tap> taps, std::span<const std::uint32_t> order,
                std::span<const std::int32_t> service_days, const LegBuilderOptions& options,
                std::vector<BuiltLeg>& legs, std::vector<OrphanTap>& orphans);

}  // namespace faregate::fares
