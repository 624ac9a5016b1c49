#pragma once
// maintenance client: what faregate-flash does at a validator's maintenance port
// (proto/faregate/v1/maintenance.proto): ask for the slot status, or stream an image with
// progress and get the validator's verdict.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/error.h"
#include "common/tls/tls_context.h"
#include "faregate/v1/maintenance.pb.h"

namespace faregate::maintenance {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  // The technician's certificate and key, the operator CA, and server name
  // tls::kMaintenanceServerName.
  std::shared_ptr<const tls::ClientContext> tls;
  std::chrono::milliseconds timeout{60'000};  // per step; the install itself may take a while
};

// The technician's TLS context from files (faregate-keys issue-technician writes them).
Result<std::shared_ptr<const tls::ClientContext>> technician_context(
    const std::filesystem::path& certificate, const std::filesystem::path& key,
    const std::filesystem::path& ca);

// Errors: connection and TLS errors (kUnavailable, kTimeout, kCrypto), kProtocol when the
// validator answers with something else or an error (its code and message in the text).
Result<faregate::v1::SlotReport> request_status(const Endpoint& endpoint);

struct FlashOutcome {
  std::optional<faregate::v1::InstallReport> installed;
  std::optional<faregate::v1::MaintenanceError> refused;  // the validator's refusal
  std::string device_id;  // the common name of the validator's maintenance certificate
};

// Streams `image` in chunks of up to 256 KiB; `progress(sent, total)` after each acknowledged
// chunk. A refusal is an outcome, not an error; errors are the transport's.
Result<FlashOutcome> flash_image(const Endpoint& endpoint, ByteView image,
                                 const std::function<void(std::uint64_t, std::uint64_t)>& progress);

}  // namespace faregate::maintenance
