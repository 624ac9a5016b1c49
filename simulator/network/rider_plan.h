#pragma once
// Turns a scenario into the day's tap events: which rider presents which card at which validator
// and when. Deterministic for a given scenario seed.

#include <cstdint>
#include <string>
#include <vector>

#include "simulator/network/scenario.h"

namespace faregate::simulator {

struct ValidatorSpec {
  std::string device_id;  // "central-entry-1"
  std::string stop_id;
  bool entry = true;      // entry or exit gate line
};

struct RiderSpec {
  std::string card_kind;
  std::uint64_t card_seed = 0;
};

struct TapEvent {
  std::int64_t time_utc_ms = 0;
  std::size_t validator = 0;  // index into NetworkPlan::validators
  std::size_t rider = 0;      // index into NetworkPlan::riders
};

struct NetworkPlan {
  std::vector<ValidatorSpec> validators;
  std::vector<RiderSpec> riders;
  std::vector<TapEvent> taps;  // ascending time
  std::uint64_t trips = 0;
  std::uint64_t forgotten_tap_outs = 0;
};

NetworkPlan plan_network(const Scenario& scenario);

}  // namespace faregate::simulator
