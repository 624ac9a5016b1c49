#pragma once
// Logging setup shared by every program: spdlog to stderr, one line per event, with the program
// name, so that interleaved output from the simulator's processes stays readable.

#include <string_view>

namespace faregate {

// level: "trace", "debug", "info", "warn", "error", "off". Unknown names fall back to "info".
void init_logging(std::string_view program, std::string_view level = "info");

}  // namespace faregate
