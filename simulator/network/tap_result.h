#pragma once
// What the scenario runner saw of one card presentation, and what the gate should have done
// for a decision. Shared by the in-process runner and the one that drives validator processes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hal/sim/sim_gate.h"

namespace faregate::simulator {

struct TapResult {
  std::uint64_t seq = 0;         // the seq the validator gave the tap; 0: nothing journaled
  bool accepted = false;         // the decision the validator announced
  bool gate_ok = false;          // the gate did exactly what that decision calls for
  bool gate_opened = false;
  std::uint32_t processing_us = 0;   // measured by the validator
  std::uint32_t radio_model_us = 0;  // modelled air time (in-process reader only)
  std::uint8_t attempts = 0;         // presentations it took (a failed read makes the rider tap again)
  // Records of earlier presentations the validator denied with a reason that asks the rider to
  // tap again (a card that did not answer in time), journaled like every read card.
  std::vector<std::uint64_t> retried_seqs;
  bool retried_gate_ok = true;  // their gate actions were those of their deny
};

// Reasons of a deny that asks the rider to tap again: the card may be fine, the tap was bad
// (tap::rider_message gives them "Please tap again").
bool is_tap_again_reason(std::string_view reason);

// The gate actions a validator owes a rider for a decision, in order: the message for the
// reason, the light, the tone, and the barrier opening on an accept.
std::vector<hal::sim::GateEvent> expected_gate_actions(bool accepted, std::string_view reason);

// True when `actual` is exactly expected_gate_actions(accepted, reason).
bool gate_did(const std::vector<hal::sim::GateEvent>& actual, bool accepted, std::string_view reason);

// Parses one line of the virtual gate's echo ("open", "light green", "text Welcome").
std::optional<hal::sim::GateEvent> parse_gate_echo(std::string_view line);

}  // namespace faregate::simulator
