#pragma once
// The subcommands of faregate-sim, each returning the process exit code.

#include <cstdint>
#include <string>

namespace faregate::simulator {

struct CardsOptions {
  bool json = false;
};
int run_cards(const CardsOptions& options);

struct TapOptions {
  std::string card_kind;
  std::uint64_t seed = 1;
  int bit_rate_kbps = 106;  // for the radio timing model
  bool json = false;
};
int run_tap(const TapOptions& options);

struct RunOptionsCli {
  std::string scenario_file;  // empty: the built-in demo scenario
  std::string backoffice;     // empty: start a back office for the run
  std::string work_dir;       // empty: a fresh temp directory
  bool json = false;
};
int run_scenario(const RunOptionsCli& options);

}  // namespace faregate::simulator
