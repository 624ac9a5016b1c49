#pragma once
// A virtual gate: records every action in order so that tests and the scenario runner can assert
// on what the rider experienced, and optionally echoes each action to a console line.

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "hal/gate.h"

namespace faregate::hal::sim {

struct GateEvent {
  enum class Kind { kOpen, kClose, kLight, kTone, kText };
  Kind kind;
  std::string detail;  // light or tone name, or the displayed text
};

std::string_view to_string(GateEvent::Kind kind);

class SimGate final : public Gate {
 public:
  // echo: called with a one-line description of each action ("open", "light green", ...).
  explicit SimGate(std::function<void(const std::string&)> echo = {}) : echo_(std::move(echo)) {}

  Status open() override;
  Status close() override;
  Status set_light(Light light) override;
  Status play(Tone tone) override;
  Status show(std::string_view text) override;

  std::vector<GateEvent> events() const;
  std::uint64_t times_opened() const;
  void clear();

 private:
  void record(GateEvent::Kind kind, std::string detail);

  std::function<void(const std::string&)> echo_;
  mutable std::mutex mutex_;
  std::vector<GateEvent> events_;
  std::uint64_t opened_ = 0;
};

}  // namespace faregate::hal::sim
