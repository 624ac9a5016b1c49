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
  std::string card_kind;        // a catalog kind, or empty with transcript_file
  std::string transcript_file;  // replay this recorded card instead (docs/card_transcript.md)
  std::string record_file;      // save the tap's exchanges as a transcript
  std::uint64_t seed = 1;
  int bit_rate_kbps = 106;  // for the radio timing model
  bool json = false;
};
int run_tap(const TapOptions& options);

struct RunOptionsCli {
  std::string scenario_file;  // empty: the built-in demo scenario
  std::string backoffice;     // empty: start a back office for the run
  std::string work_dir;       // empty: a fresh temp directory, removed after a clean run
  bool json = false;
  bool rider_lines = false;   // with json: one entry per rider
  bool processes = false;     // each validator a faregate-validator process over libnfc
  std::string validator_binary;  // empty: found beside faregate-sim or on PATH
  double acceleration = -1;      // < 0: the scenario's own
  unsigned threads = 0;          // 0: one per core (at most 4)
};
int run_scenario(const RunOptionsCli& options);

}  // namespace faregate::simulator
