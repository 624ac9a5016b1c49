#pragma once
// maintenance::MaintenanceSession: the validator's side of one maintenance connection
// (proto/faregate/v1/maintenance.proto), without any I/O of its own: each request from the
// technician goes in, one response comes out. Kept apart from the socket code so that tests and
// the fuzz target drive it straight from messages.
//
// An image arrives as ImageBegin{size, sha256}, ImageData chunks at increasing offsets, ImageEnd.
// The session checks every step (size within the image limit, each chunk at the offset received
// so far and within the announced size), then at the end the SHA-256, and hands the image to
// update::install_image, which verifies the signature with the trusted key and the security
// counter, writes the inactive slot, reads it back and verifies it again. The running image is
// never touched; any refusal is a MaintenanceError and the session is over.
//
// Not thread-safe: one connection, one thread.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"
#include "faregate/v1/maintenance.pb.h"
#include "firmware/update/installer.h"
#include "firmware/update/signing_key.h"

namespace faregate::maintenance {

inline constexpr std::size_t kMaxDataBytes = 256 * 1024;
// A data frame plus its envelope stays under this.
inline constexpr std::size_t kMaxFrameBytes = 1024 * 1024;

struct DeviceInfo {
  std::filesystem::path data_dir;
  std::string device_id;
  std::string running_version;  // what this process was started from
};

// What faregate-flash --status shows: the boot state and both slots, verified with `trusted`.
Result<faregate::v1::SlotReport> slot_report(const DeviceInfo& device,
                                             const update::PublicKey& trusted);

class MaintenanceSession {
 public:
  // `on_installed` runs after a successful install (the validator logs it; it may restart later).
  MaintenanceSession(DeviceInfo device, const update::PublicKey& trusted,
                     std::function<void(const update::SlotState&)> on_installed = {});

  faregate::v1::MaintenanceResponse handle(const faregate::v1::MaintenanceRequest& request);
  // True once the session answered with an error or an install report: close the connection.
  bool finished() const { return finished_; }

 private:
  faregate::v1::MaintenanceResponse fail(std::string code, std::string message);
  faregate::v1::MaintenanceResponse finish_image();

  DeviceInfo device_;
  const update::PublicKey& trusted_;
  std::function<void(const update::SlotState&)> on_installed_;
  struct Transfer {
    std::uint64_t size = 0;
    crypto::Sha256Digest sha256{};
    Bytes image;
  };
  std::optional<Transfer> transfer_;
  bool finished_ = false;
};

}  // namespace faregate::maintenance
