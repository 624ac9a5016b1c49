#pragma once
// The demo network's GTFS-Fares v2 feed (simulator/scenarios/demo_fares/, built into the
// binary): its stations and the stops of bus route 7 in two areas, metro and bus networks, a
// free metro-to-bus transfer, a daily cap, and a concession category with its own fares and
// cap. A scenario selects it with "fares": {"feed": "demo"} (docs/scenario_format.md).

#include <map>
#include <string>

namespace faregate::simulator {

// File name -> contents, for fares::FeedSource::in_memory.
std::map<std::string, std::string> embedded_demo_fares();

}  // namespace faregate::simulator
