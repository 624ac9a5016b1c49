#include "simulator/network/tap_result.h"

#include "firmware/tap/tap_pipeline.h"

namespace faregate::simulator {

using hal::sim::GateEvent;

std::vector<GateEvent> expected_gate_actions(bool accepted, std::string_view reason) {
  std::vector<GateEvent> out = {
      {GateEvent::Kind::kText, std::string(tap::rider_message(reason))},
      {GateEvent::Kind::kLight, std::string(hal::to_string(accepted ? hal::Light::kGreen : hal::Light::kRed))},
      {GateEvent::Kind::kTone, std::string(hal::to_string(accepted ? hal::Tone::kAccept : hal::Tone::kDeny))},
  };
  if (accepted) out.push_back({GateEvent::Kind::kOpen, ""});
  return out;
}

bool gate_did(const std::vector<GateEvent>& actual, bool accepted, std::string_view reason) {
  const auto expected = expected_gate_actions(accepted, reason);
  if (actual.size() != expected.size()) return false;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (actual[i].kind != expected[i].kind || actual[i].detail != expected[i].detail) return false;
  }
  return true;
}

bool is_tap_again_reason(std::string_view reason) {
  return reason == "card_timeout" || reason == "card_protocol_error" || reason == "card_removed";
}

std::optional<GateEvent> parse_gate_echo(std::string_view line) {
  const auto space = line.find(' ');
  const std::string_view word = line.substr(0, space);
  const std::string detail = space == std::string_view::npos ? "" : std::string(line.substr(space + 1));
  for (auto kind : {GateEvent::Kind::kOpen, GateEvent::Kind::kClose, GateEvent::Kind::kLight,
                    GateEvent::Kind::kTone, GateEvent::Kind::kText}) {
    if (hal::sim::to_string(kind) == word) return GateEvent{kind, detail};
  }
  return std::nullopt;
}

}  // namespace faregate::simulator
