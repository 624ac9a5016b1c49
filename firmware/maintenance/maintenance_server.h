#pragma once
// maintenance::MaintenanceServer: the validator's maintenance port, on only when
// faregate-validator is given --maintenance-port. Mutual TLS: the validator presents its
// maintenance certificate (faregate-keys issue-maintenance) and accepts only technician
// certificates from the operator CA (tls::ClientRole::kTechnician; faregate-keys
// issue-technician). A device's or the back office's certificate fails the handshake. Each
// connection is one MaintenanceSession (status, or one image verified and installed into the
// inactive slot). One connection at a time; others wait in the listen backlog.
//
// Threads: start() runs the port on one thread of its own; stop() ends it (after the connection
// in progress, which its idle timeout bounds).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/tls/tls_context.h"
#include "firmware/maintenance/maintenance_session.h"
#include "firmware/update/signing_key.h"

namespace faregate::maintenance {

struct MaintenanceServerOptions {
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port, returned by start()
  // Built with tls::ClientRole::kTechnician. Required.
  std::shared_ptr<const tls::ServerContext> tls;
  DeviceInfo device;
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30'000};
  // Called on the maintenance thread after each successful install.
  std::function<void(const update::SlotState&)> on_installed;
};

struct MaintenanceCounters {
  std::uint64_t connections = 0;
  std::uint64_t refused_handshakes = 0;  // not a technician, untrusted, expired, ...
  std::uint64_t installs = 0;
  std::uint64_t refused_images = 0;      // sessions that ended with a MaintenanceError
};

class MaintenanceServer {
 public:
  // `trusted`: the key images must be signed with; must outlive the server.
  MaintenanceServer(MaintenanceServerOptions options, const update::PublicKey& trusted);
  ~MaintenanceServer();  // stop()s
  MaintenanceServer(const MaintenanceServer&) = delete;
  MaintenanceServer& operator=(const MaintenanceServer&) = delete;

  // Binds and listens, then serves on its own thread. Returns the bound port. Errors:
  // kInvalidArgument (no TLS context, bad address), kUnavailable (cannot bind).
  Result<std::uint16_t> start();
  void stop();
  MaintenanceCounters counters() const;

 private:
  void serve();
  void serve_connection(int fd);

  MaintenanceServerOptions options_;
  const update::PublicKey& trusted_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // a pipe: stop() writes to it to end the accept wait
  std::thread thread_;
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> refused_handshakes_{0};
  std::atomic<std::uint64_t> installs_{0};
  std::atomic<std::uint64_t> refused_images_{0};
};

}  // namespace faregate::maintenance
