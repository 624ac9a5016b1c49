#include "hal/sim/sim_gate.h"

namespace faregate::hal::sim {

std::string_view to_string(GateEvent::Kind kind) {
  switch (kind) {
    case GateEvent::Kind::kOpen: return "open";
    case GateEvent::Kind::kClose: return "close";
    case GateEvent::Kind::kLight: return "light";
    case GateEvent::Kind::kTone: return "tone";
    case GateEvent::Kind::kText: return "text";
  }
  return "unknown";
}

void SimGate::record(GateEvent::Kind kind, std::string detail) {
  std::string line;
  {
    std::lock_guard lock(mutex_);
    if (kind == GateEvent::Kind::kOpen) ++opened_;
    events_.push_back({kind, detail});
  }
  if (echo_) {
    line = std::string(to_string(kind));
    if (!detail.empty()) line += " " + detail;
    echo_(line);
  }
}

Status SimGate::open() {
  record(GateEvent::Kind::kOpen, "");
  return {};
}
Status SimGate::close() {
  record(GateEvent::Kind::kClose, "");
  return {};
}
Status SimGate::set_light(Light light) {
  record(GateEvent::Kind::kLight, std::string(to_string(light)));
  return {};
}
Status SimGate::play(Tone tone) {
  record(GateEvent::Kind::kTone, std::string(to_string(tone)));
  return {};
}
Status SimGate::show(std::string_view text) {
  record(GateEvent::Kind::kText, std::string(text));
  return {};
}

std::vector<GateEvent> SimGate::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

std::uint64_t SimGate::times_opened() const {
  std::lock_guard lock(mutex_);
  return opened_;
}

void SimGate::clear() {
  std::lock_guard lock(mutex_);
  events_.clear();
  opened_ = 0;
}

}  // namespace faregate::hal::sim
