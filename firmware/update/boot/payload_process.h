#pragma once
// Runs a verified payload as a child process. The payload is copied into a sealed memfd and
// started with fexecve, so what runs is byte for byte what was verified: no file on disk that
// could be swapped between the check and the exec. Where the kernel refuses to execute memfds
// (vm.memfd_noexec), it falls back to a file in the firmware directory, written just before.
// Payloads may be ELF programs or "#!" scripts.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"

namespace faregate::update {

struct ProcessExit {
  bool signaled = false;
  int code = 0;  // exit code, or the signal number if signaled

  bool clean() const { return !signaled && code == 0; }
  // Exit status in shell convention: the code, or 128 + signal.
  int shell_status() const { return signaled ? 128 + code : code; }
  std::string describe() const;
};

class PayloadProcess {
 public:
  // Starts `payload` with argv = {name, args...} and the current environment plus `extra_env`
  // ("NAME=value"). The child starts with an empty signal mask. Errors: kIo, or kUnavailable when
  // the program could not be executed at all (with the errno text).
  static Result<PayloadProcess> start(ByteView payload, const std::string& name,
                                      const std::vector<std::string>& args,
                                      const std::vector<std::string>& extra_env,
                                      const std::filesystem::path& fallback_file);

  PayloadProcess(PayloadProcess&& other) noexcept;
  PayloadProcess& operator=(PayloadProcess&&) = delete;
  PayloadProcess(const PayloadProcess&) = delete;
  PayloadProcess& operator=(const PayloadProcess&) = delete;
  // A child still running is killed (SIGKILL) and reaped: the launcher never leaves orphans.
  ~PayloadProcess();

  pid_t pid() const { return pid_; }
  // The exit status if the child has ended (reaps it), without blocking.
  std::optional<ProcessExit> poll();
  ProcessExit wait();
  void signal(int signal_number) const;

 private:
  PayloadProcess(pid_t pid, int memfd) : pid_(pid), memfd_(memfd) {}
  pid_t pid_ = -1;
  int memfd_ = -1;
  std::optional<ProcessExit> exit_;
};

}  // namespace faregate::update
