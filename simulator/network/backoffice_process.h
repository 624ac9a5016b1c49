#pragma once
// Runs a real faregate-backoffice as a child process, for the demo and for tests that must kill
// and restart it. The child's first stdout line ("listening ADDR:PORT") tells its port.
//
// The sync link is mutual TLS, as in production: on first start the simulated operator
// provisions a throw-away PKI with the same code as faregate-keys (init-ca and issue-backoffice):
// the CA in simulated_pki_dir(data_dir) (beside the data directory) and the back office's
// credentials in DATA_DIR/tls. Each validator then gets its device certificate from
// provision_device_tls (issue-device). Passing "--insecure-dev" in extra_args runs plain TCP
// instead, with no PKI.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/tls/tls_context.h"

namespace faregate::simulator {

class BackofficeProcess {
 public:
  // Starts `binary --data-dir DATA --port PORT` (+ extra args) and waits for its listening line.
  // Unless extra_args holds "--insecure-dev", first provisions the TLS credentials if they are
  // not there yet (see above).
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

// Where the simulated operator keeps its CA for a back office with this data directory:
// DATA_DIR/../pki.
std::filesystem::path simulated_pki_dir(const std::filesystem::path& backoffice_data_dir);

// faregate-keys init-ca (if `pki_dir` holds no CA yet) and issue-backoffice into
// DATA_DIR/tls (if not there yet), with a fresh, throw-away CA.
Status provision_backoffice_tls(const std::filesystem::path& pki_dir,
                                const std::filesystem::path& backoffice_data_dir);

// faregate-keys issue-device from the CA in `pki_dir` into pki_dir/devices/DEVICE_ID (reused if
// already there), loaded as a validator's TLS client context. Errors: kNotFound when `pki_dir`
// holds no CA.
Result<std::shared_ptr<const tls::ClientContext>> provision_device_tls(
    const std::filesystem::path& pki_dir, const std::string& device_id);

// Finds the faregate-backoffice binary built beside the running program (build tree layout) or
// on PATH.
Result<std::filesystem::path> find_backoffice_binary();

}  // namespace faregate::simulator
