#include <catch2/catch.hpp>

#include "hal/sim/sim_gate.h"

using faregate::hal::Light;
using faregate::hal::Tone;
using faregate::hal::sim::GateEvent;

TEST_CASE("the virtual gate records actions in order and echoes them") {
  std::vector<std::string> echoed;
  faregate::hal::sim::SimGate gate([&](const std::string& line) { echoed.push_back(line); });
  REQUIRE(gate.show("Welcome"));
  REQUIRE(gate.set_light(Light::kGreen));
  REQUIRE(gate.play(Tone::kAccept));
  REQUIRE(gate.open());
  const auto events = gate.events();
  REQUIRE(events.size() == 4);
  CHECK(events[0].kind == GateEvent::Kind::kText);
  CHECK(events[0].detail == "Welcome");
  CHECK(events[1].detail == "green");
  CHECK(events[3].kind == GateEvent::Kind::kOpen);
  CHECK(gate.times_opened() == 1);
  CHECK(echoed == std::vector<std::string>{"text Welcome", "light green", "tone accept", "open"});
  gate.clear();
  CHECK(gate.events().empty());
  CHECK(gate.times_opened() == 0);
}
