#include "firmware/update/boot/launcher.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "firmware/update/boot/payload_process.h"
#include "firmware/update/boot_sequence.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/health.h"

namespace faregate::update {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kHealthPollInterval = std::chrono::milliseconds(100);

// SIGCHLD, SIGTERM and SIGINT delivered through a signalfd, so that the wait for the child, for
// its health marker and for a stop request is one poll(2) loop with no signal-handler races.
class SignalWatch {
 public:
  SignalWatch() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGCHLD);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    ::sigprocmask(SIG_BLOCK, &set_, &previous_);
    fd_ = ::signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK);
  }
  ~SignalWatch() {
    if (fd_ >= 0) ::close(fd_);
    ::sigprocmask(SIG_SETMASK, &previous_, nullptr);
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Waits up to `timeout` (forever if negative) and returns true if a stop was requested.
  bool wait(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, timeout.count() < 0 ? -1 : static_cast<int>(timeout.count()));
    bool stop = false;
    if (rc > 0) {
      signalfd_siginfo info{};
      while (::read(fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
        if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) stop = true;
      }
    }
    return stop;
  }

 private:
  sigset_t set_{};
  sigset_t previous_{};
  int fd_ = -1;
};

std::chrono::milliseconds until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

const char* mode_name(BootMode mode) { return mode == BootMode::kTrial ? "trial" : "confirmed"; }

}  // namespace

Launcher::Launcher(LauncherOptions options, const PublicKey& trusted)
    : options_(std::move(options)), trusted_(trusted) {}

int Launcher::run() {
  PosixFileOps ops;
  const FirmwareDir dir(options_.data_dir);
  SignalWatch signals;
  if (!signals.ok()) {
    spdlog::error("cannot watch signals");
    return kLauncherIoError;
  }

  for (;;) {
    auto plan = begin_boot(dir, ops, trusted_, options_.policy);
    if (!plan) {
      spdlog::error("{}", plan.error().describe());
      if (options_.once || signals.wait(options_.restart_delay)) return kLauncherIoError;
      continue;
    }
    for (const auto& note : plan->notes) spdlog::warn("{}", note);
    if (!plan->slot) {
      spdlog::error(
          "nothing to boot: no image in slot a or b is signed by the trusted key, intact and "
          "allowed by the security counter");
      return kLauncherNothingToBoot;
    }
    const std::uint64_t boot_id = plan->next_state.boot_count;
    auto image = load_planned_image(dir, ops, trusted_, *plan);
    if (!image) {
      spdlog::error("boot {}: {}", boot_id, image.error().describe());
      if (options_.once || signals.wait(options_.restart_delay)) return kLauncherIoError;
      continue;
    }
    (void)ops.remove(
        dir.health_file());  // a marker from an earlier boot must not count for this one
    const auto parts = parse_image(*image);  // cannot fail: load_planned_image verified it
    if (!parts) return kLauncherIoError;
    const std::vector<std::string> env = {
        fmt::format("{}={}", kBootIdEnv, boot_id),
        fmt::format("{}={}", kHealthFileEnv, dir.health_file().string()),
        fmt::format("{}={}", kBootSlotEnv, slot_letter(*plan->slot)),
        fmt::format("{}={}", kBootTrialEnv, plan->mode == BootMode::kTrial ? 1 : 0),
        fmt::format("{}={}", kFirmwareVersionEnv, plan->firmware_version),
    };
    auto child = PayloadProcess::start(parts->payload, "faregate-validator",
                                       options_.validator_args, env, dir.root() / "validator.run");
    if (!child) {
      spdlog::error("boot {}: slot {}: {}; counted as a failed boot", boot_id,
                    slot_letter(*plan->slot), child.error().describe());
      if (options_.once || signals.wait(options_.restart_delay)) return kLauncherIoError;
      continue;
    }
    spdlog::info("boot {}: slot {} version {} (security counter {}) in {} mode{}, pid {}", boot_id,
                 slot_letter(*plan->slot), plan->firmware_version, plan->security_counter,
                 mode_name(plan->mode),
                 plan->mode == BootMode::kTrial
                     ? fmt::format(" (trial boot {} of {})", plan->next_state.trial_boots,
                                   options_.policy.max_trial_boots)
                     : std::string(),
                 child->pid());

    bool healthy = false;
    bool stopping = false;
    std::optional<Clock::time_point> kill_at;
    const auto health_deadline = Clock::now() + options_.health_timeout;
    const auto check_health = [&] {
      if (healthy || !health_reported(dir, ops, *plan)) return;
      healthy = true;
      auto confirmed = confirm_healthy(dir, ops, *plan);
      if (!confirmed) {
        spdlog::error("boot {}: healthy, but {}", boot_id, confirmed.error().describe());
      } else if (plan->mode == BootMode::kTrial) {
        spdlog::info("boot {}: healthy; version {} in slot {} confirmed, security counter now {}",
                     boot_id, plan->firmware_version, slot_letter(*plan->slot),
                     confirmed->security_counter);
      } else {
        spdlog::info("boot {}: healthy", boot_id);
      }
    };

    std::optional<ProcessExit> exit;
    while (!(exit = child->poll())) {
      check_health();
      auto timeout = healthy ? std::chrono::milliseconds(-1) : kHealthPollInterval;
      if (kill_at) timeout = std::min(until(*kill_at), kHealthPollInterval);
      if (signals.wait(timeout) && !stopping) {
        stopping = true;
        spdlog::info("stop requested: stopping the validator");
        child->signal(SIGTERM);
        kill_at = Clock::now() + options_.stop_timeout;
      }
      if (!healthy && !kill_at && plan->mode == BootMode::kTrial &&
          Clock::now() >= health_deadline) {
        spdlog::warn("boot {}: trial image did not report healthy within {} ms: stopping it",
                     boot_id, options_.health_timeout.count());
        child->signal(SIGTERM);
        kill_at = Clock::now() + options_.stop_timeout;
      }
      if (kill_at && Clock::now() >= *kill_at) child->signal(SIGKILL);
    }
    check_health();  // a validator may report healthy and exit before the next poll

    if (stopping) {
      spdlog::info("validator stopped ({})", exit->describe());
      return 0;
    }
    if (exit->clean()) {
      spdlog::info("validator shut down cleanly");
      return 0;
    }
    if (!exit->signaled && exit->code == kRestartExitCode && !options_.once) {
      spdlog::info("validator asked for a restart");
      continue;
    }
    spdlog::warn("boot {}: validator {}{}", boot_id, exit->describe(),
                 healthy ? "" : " before reporting healthy: counted as a failed boot");
    if (options_.once) return exit->shell_status();
    if (signals.wait(options_.restart_delay)) return 0;
  }
}

}  // namespace faregate::update
