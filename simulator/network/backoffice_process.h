#pragma once
// Runs a real faregate-backoffice as a child process, for the demo and for tests that must kill
// and restart it. The child's first stdout line ("listening ADDR:PORT") tells its port.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"

namespace faregate::simulator {

class BackofficeProcess {
 public:
  // Starts `binary --data-dir DATA --port PORT` (+ extra args) and waits for its listening line.
  static Result<BackofficeProcess> start(const std::filesystem::path& binary,
                                         const std::filesystem::path& data_dir,
                                         std::uint16_t port = 0,
                                         std::vector<std::string> extra_args = {},
                                         std::chrono::milliseconds timeout = std::chrono::seconds(20));
  BackofficeProcess(BackofficeProcess&& other) noexcept;
  BackofficeProcess& operator=(BackofficeProcess&& other) noexcept;
  BackofficeProcess(const BackofficeProcess&) = delete;
  BackofficeProcess& operator=(const BackofficeProcess&) = delete;
  ~BackofficeProcess();  // stops the child (SIGTERM, then SIGKILL after 5 s)

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // SIGTERM and wait: returns the exit code (or 128 + signal).
  Result<int> stop();
  // SIGKILL and wait: a crash, as far as the child can tell.
  void kill_hard();

 private:
  BackofficeProcess(pid_t pid, std::uint16_t port) : pid_(pid), port_(port) {}
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// Finds the faregate-backoffice binary built beside the running program (build tree layout) or
// on PATH.
Result<std::filesystem::path> find_backoffice_binary();

}  // namespace faregate::simulator
