#pragma once
// Tap: what the fare engine needs of one accepted tap. The back office builds it from a stored
// faregate.v1.TapRecord (denied taps are not priced and are not given to the engine); the
// quote CLI builds it from a CSV line. Ids are already interned against the FarePolicy
// (FarePolicy::stop_index(...) and friends), so the engine never hashes strings per tap.

#include <cstdint>

#include "backoffice/fares/card_token.h"
#include "backoffice/fares/interner.h"

namespace faregate::fares {

enum class TapRole : std::uint8_t {
  kEntry,    // gate line at a station entrance (or a vehicle's tap-on reader): starts a leg
  kExit,     // gate line at a station exit (or a vehicle's tap-off reader): ends a leg
  kOnboard,  // single tap on a vehicle whose validator knows its route: one tap is one leg
};

struct Tap {
  CardToken card;
  std::int64_t utc_ms = 0;
  // Policy stop index; kUnknown when the validator's stop_id is not in the feed (the tap is
  // then reported as an orphan, never silently priced).
  Index stop = kUnknown;
  // Policy route index; kNone when the validator has no route (station gates), kUnknown when
  // its route_id is not in the feed.
  Index route = kNone;
  // Rider category override for this tap (policy index) or kNone: then the entitlement
  // registry decides, then the feed's default category.
  Index rider_category = kNone;
  // Fare medium (policy index) or kNone: then EngineOptions::default_fare_media.
  Index fare_media = kNone;
  TapRole role = TapRole::kOnboard;
  // Caller-assigned device number and the device's tap sequence: (device, seq) identifies a
  // tap, orders taps of equal time and removes a tap given twice.
  std::uint32_t device = 0;
  std::uint64_t seq = 0;
};

}  // namespace faregate::fares
