#pragma once
// tls::ServerCredentials: the back office's TLS server context, rebuilt when its files change.
//
// The operator revokes a device by replacing the revocation list file (faregate-keys
// revoke-device --install writes it atomically); the back office must refuse that device from
// its next connection on, without a restart. current() looks at the files' change times at most
// once per check interval and, when one changed, builds a new ServerContext. Connections already
// running keep the context they started with; new ones get the new one.
//
// If the changed files do not make a valid context (a truncated copy, a list signed by another
// CA), the previous context stays in use, the failure is logged and counted, and the load is
// tried again at the next check: refusing every validator because of an operator's typo would
// stop the whole network from syncing, while the journals keep every tap safe either way.
//
// Thread safety: every method may be called from any thread.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "common/error.h"
#include "common/tls/tls_context.h"

namespace faregate::tls {

class ServerCredentials {
 public:
  using Clock = std::chrono::steady_clock;

  // Loads the files now; any problem is an error (a back office must not start without them).
  static Result<std::shared_ptr<ServerCredentials>> load(
      ServerFiles files, std::chrono::milliseconds check_every = std::chrono::seconds(1));

  ServerCredentials(const ServerCredentials&) = delete;
  ServerCredentials& operator=(const ServerCredentials&) = delete;

  // The context for a new connection. `now` paces the file checks.
  std::shared_ptr<const ServerContext> current(Clock::time_point now);
  // Checks the files at once, whatever the interval. Returns true when a new context was built.
  bool reload_if_changed();

  std::uint64_t reloads() const;
  std::uint64_t reload_failures() const;
  std::size_t revoked_count() const;
  const ServerFiles& files() const { return files_; }

 private:
  // Identifies a version of the file set: change time (ns), size and inode of each file.
  using Fingerprint = std::string;

  ServerCredentials(ServerFiles files, std::chrono::milliseconds check_every,
                    std::shared_ptr<const ServerContext> context, Fingerprint fingerprint,
                    Clock::time_point checked)
      : files_(std::move(files)),
        check_every_(check_every),
        context_(std::move(context)),
        fingerprint_(std::move(fingerprint)),
        last_check_(checked) {}
  Fingerprint fingerprint() const;
  bool reload_locked();

  const ServerFiles files_;
  const std::chrono::milliseconds check_every_;
  mutable std::mutex mutex_;
  std::shared_ptr<const ServerContext> context_;
  Fingerprint fingerprint_;
  Fingerprint failed_fingerprint_;  // the last version that failed, logged once
  Clock::time_point last_check_;
  std::uint64_t reloads_ = 0;
  std::uint64_t reload_failures_ = 0;
};

}  // namespace faregate::tls
