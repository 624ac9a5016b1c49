#pragma once
// Turns a scenario into the day's tap events: which rider presents which card at which validator
// and when, and what the validator should decide. Deterministic for a given scenario seed.
//
// A rider's journey from one place to another is planned with the fewest legs: a rail leg
// between two stations (entry tap at the origin's entry gate line, exit tap at the destination's
// exit gate line, unless the rider forgets it), a bus leg between two stops of one route (one
// tap on the onboard validator of the vehicle boarded). A stop named like a station is where
// riders change between bus and rail.
//
// A rider whose card should be refused tries once per journey, at the first validator, and does
// not travel with the network (the gate stays shut; the rider goes another way).

#include <cstdint>
#include <string>
#include <vector>

#include "simulator/network/scenario.h"

namespace faregate::simulator {

enum class ValidatorKind { kEntry, kExit, kOnboard };

struct ValidatorSpec {
  std::string device_id;  // "central-entry-1", "bus-12-3"
  // The station; for an onboard validator its route's first stop (the validator does not follow
  // the vehicle's position).
  std::string stop_id;
  ValidatorKind kind = ValidatorKind::kEntry;
  std::string route_id;  // onboard validators only
};

struct RiderSpec {
  std::string card_kind;
  std::uint64_t card_seed = 0;
  std::size_t group = 0;  // index into Scenario::groups
  std::string home;
  std::string work;
  bool expect_accept = true;   // every tap of the rider is accepted, or every one refused
  std::string expect_reason;   // the reason every tap of the rider should get
  std::uint32_t taps = 0;      // planned taps
};

struct TapEvent {
  std::int64_t time_utc_ms = 0;
  std::size_t validator = 0;    // index into NetworkPlan::validators
  std::size_t rider = 0;        // index into NetworkPlan::riders
  std::uint32_t rider_tap = 0;  // this is the rider's rider_tap-th tap (0-based)
};

struct NetworkPlan {
  std::vector<ValidatorSpec> validators;
  std::vector<RiderSpec> riders;
  std::vector<TapEvent> taps;  // ascending time; a rider's taps in the order made
  std::uint64_t trips = 0;     // journeys started
  std::uint64_t rail_legs = 0;
  std::uint64_t bus_legs = 0;
  std::uint64_t forgotten_tap_outs = 0;
  std::uint64_t refused_trips = 0;  // journeys that ended at a gate that refused the card
};

// Requires: a scenario from parse_scenario (or one as consistent: known places, connected
// network). Card kinds are not checked here (a rider with an unknown kind is planned as one
// whose card is refused); run_network refuses them before anything is played.
NetworkPlan plan_network(const Scenario& scenario);

}  // namespace faregate::simulator
