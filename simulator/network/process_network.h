#pragma once
// Plays a rider day with every validator as a separate faregate-validator process, each reading
// cards through the real libnfc (pn532_uart driver) from its own virtual PN532 on a pty. The
// runner is the riders' hands: it places a rider's card in a validator's field, reads the
// validator's log (stderr, one line per event) for the gate actions and the journaled tap, takes
// the card away, and waits until the validator has seen the field empty before the next rider
// steps up. Nothing else connects runner and validators: the cards travel the same path as at a
// real gate (pty -> libnfc -> hal::libnfc -> tap pipeline), and the validator syncs to the back
// office on its own.
//
// Each validator's data directory (work_dir/validators/<device>/) is provisioned as an operator
// would: the card-token key file, the back office's sealing public key (PEM), the simulator's
// CA key file, and a device TLS certificate from the simulated operator CA (or plain TCP with
// --insecure-dev when the back office has no PKI). Its log is kept in validator.log there.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "hal/sim/contactless_card.h"
#include "simulator/network/rider_plan.h"
#include "simulator/network/tap_result.h"

namespace faregate::simulator {

struct ProcessPlayOptions {
  std::filesystem::path validator_binary;
  std::filesystem::path work_dir;
  std::string backoffice_host = "127.0.0.1";
  std::uint16_t backoffice_port = 0;
  // The simulated operator's CA: each validator gets a device certificate from it. Empty: the
  // back office runs plain TCP and validators get --insecure-dev.
  std::filesystem::path pki_dir;
  std::uint64_t key_seed = 1;  // the scenario seed the network's keys derive from
  unsigned sync_interval_s = 5;
  unsigned batch_taps = 200;
  unsigned anti_passback_s = 0;
  // Simulated seconds per real second (0: as fast as the validators go); the taps are paced
  // from `day_start_utc_ms`.
  double acceleration = 0;
  std::int64_t day_start_utc_ms = 0;
  // A presentation the validator has not decided in this time is given up.
  std::chrono::milliseconds tap_timeout{20'000};
  // How long the processes may take to start, and to sync their last taps at the end.
  std::chrono::milliseconds start_timeout{60'000};
  std::chrono::milliseconds final_sync_timeout{60'000};
  // Called with (taps done, taps in all) now and then; the caller decides what to print.
  std::function<void(std::size_t, std::size_t)> on_progress;
};

struct ProcessPlayResult {
  std::vector<TapResult> taps;            // one per plan tap
  std::vector<std::uint64_t> watermarks;  // per validator: the last "back office holds through"
  std::uint64_t sync_sessions = 0;        // sync sessions that sent taps (from the logs)
  std::uint64_t sync_failures = 0;
  std::vector<std::string> problems;      // error lines from the validators, exits, timeouts
  double setup_seconds = 0;
  double play_seconds = 0;  // from the first tap to the last decision
  double end_seconds = 0;   // waiting for the last syncs, stopping the processes
};

// Requires: `cards` holds one card per plan rider; the work directory holds no validators yet.
Result<ProcessPlayResult> play_with_processes(
    const NetworkPlan& plan, const std::vector<std::shared_ptr<hal::sim::ContactlessCard>>& cards,
    const ProcessPlayOptions& options);

}  // namespace faregate::simulator
