#pragma once
// faregate-boot's main loop: decide which image to start (boot_sequence.h), start it
// (payload_process.h), watch for its health report, and decide again when it ends.
//
// A trial boot that does not report healthy within health_timeout is stopped (SIGTERM, then
// SIGKILL) and counts as failed. A validator that exits before reporting healthy counts as a
// failed boot. Exit 0 from the validator is a clean shutdown and ends the launcher; exit
// kRestartExitCode (health.h) boots again at once. SIGTERM/SIGINT to the launcher are passed on
// to the validator, and the launcher exits once it has stopped.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "firmware/update/boot_decision.h"
#include "firmware/update/signing_key.h"

namespace faregate::update {

struct LauncherOptions {
  std::filesystem::path data_dir;
  BootPolicy policy;
  std::vector<std::string> validator_args;
  std::chrono::milliseconds health_timeout{std::chrono::seconds(120)};
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(10)};  // SIGTERM to SIGKILL
  std::chrono::milliseconds restart_delay{std::chrono::seconds(2)};
  bool once = false;  // start one boot and return the validator's exit status
};

// Launcher exit codes (besides the validator's own status with --once).
inline constexpr int kLauncherNothingToBoot = 2;
inline constexpr int kLauncherIoError = 3;

class Launcher {
 public:
  Launcher(LauncherOptions options, const PublicKey& trusted);
  // Runs until the validator shuts down cleanly or the launcher is told to stop. Returns the exit
  // code for the launcher process.
  int run();

 private:
  LauncherOptions options_;
  const PublicKey& trusted_;
};

}  // namespace faregate::update
