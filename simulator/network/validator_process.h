#pragma once
// Running faregate-validator as a child process, as the scenario runner (--processes) and the
// validator fault tests do: provisioning its data directory with the simulated network's keys,
// starting it with its output on a pipe, and reading its log lines.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace faregate::simulator {

// Writes what an operator provisions on a validator of the simulated network with `key_seed`:
// DIR/card_token.key (mode 0600) and DIR/sealing_public.pem; and, when `pki_dir` is not empty,
// a device certificate for `device_id` from that simulated operator CA in
// pki_dir/devices/DEVICE_ID (pass it as --tls-dir). Existing key files are kept.
Status provision_validator_dir(const std::filesystem::path& dir, std::uint64_t key_seed,
                               const std::filesystem::path& pki_dir, const std::string& device_id);

// Writes the simulator's CA key file (docs/oda.md format) for --ca-keys.
Status write_simulator_ca_keys(const std::filesystem::path& file);

// A child program whose stdout and stderr come back through one non-blocking pipe. The child
// gets SIGKILL when the parent dies, and inherits no descriptor beyond 0-2.
class ChildProcess {
 public:
  // Starts args[0] with args. Errors: kIo if the pipe or fork fails (an exec failure shows as
  // exit code 127 and a line on the pipe).
  static Result<std::unique_ptr<ChildProcess>> spawn(std::vector<std::string> args);
  ~ChildProcess();  // SIGKILL and reap, if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int fd() const { return fd_; }
  pid_t pid() const { return pid_; }
  // The child closed its output (it has exited, or is exiting).
  bool eof() const { return eof_; }

  // Reads what the pipe holds (never blocks) and appends the complete lines to `lines`.
  void read_lines(std::vector<std::string>& lines);
  // Waits up to `timeout_ms` for output, then reads it like read_lines.
  void wait_lines(std::vector<std::string>& lines, int timeout_ms);

  void terminate();  // SIGTERM
  // The exit code (or 128 + signal) once the child has exited; nullopt while it runs.
  std::optional<int> try_wait();
  // SIGKILL (if still running) and reap; returns the exit code.
  int kill_and_wait();
  // Waits up to `timeout_ms` for the child to exit on its own, then kills it.
  int wait_or_kill(int timeout_ms);

 private:
  ChildProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  int wait_blocking();

  pid_t pid_;
  int fd_;
  bool eof_ = false;
  std::string partial_;
  std::optional<int> exit_code_;
};

// One line of the validator's log: "2026-03-02T07:31:02.120 validator info: tap device=...".
struct LogLine {
  std::string_view level;    // "info", "warn", "debug", ...
  std::string_view message;  // after "<level>: "
};
std::optional<LogLine> parse_log_line(std::string_view line);

// The value of "key=value" in a space-separated message ("seq" in "tap device=x seq=4 ...");
// empty if absent.
std::string_view log_field(std::string_view message, std::string_view key);

}  // namespace faregate::simulator
