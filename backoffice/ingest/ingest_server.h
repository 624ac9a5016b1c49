#pragma once
// ingest::IngestServer: the back office's end of the sync protocol (proto/faregate/v1/sync.proto,
// docs/sync_protocol.md). Validators connect over TLS 1.2 with mutual authentication (plain TCP
// only when no TLS credentials are given: development and tests), say Hello, and send
// TapBatches; each batch is stored through a store::TapStore and acknowledged with the device's
// contiguous watermark.
//
// With TLS, the device id of a connection is the common name of the device certificate the
// handshake verified (issued by the pinned device CA, not revoked); a Hello naming another device
// is refused, and so is any tap of another device. Handshake failures are logged with the peer
// address and counted per reason.
//
// Built for hostile peers: frame sizes are checked before anything is buffered, a connection is
// closed if its Hello is not complete within idle_timeout or if it then sends nothing for
// idle_timeout (slow-loris defence), the number of
// connections is capped, and a peer that breaks the protocol gets a ProtocolError frame and is
// closed without affecting anyone else. Each such event is logged with the peer address and
// counted per reason.
//
// Threads: one network thread runs every connection; store calls run on one dedicated store
// thread so that a slow disk never stalls the network thread. Both belong to the server.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "backoffice/denylist/push_store.h"
#include "backoffice/store/tap_store.h"
#include "common/error.h"
#include "common/tls/server_credentials.h"
#include "common/tls/tls_engine.h"
#include "proto/framing.h"

namespace faregate::firmware {
class FirmwareOffers;
}

namespace faregate::ingest {

inline constexpr std::uint32_t kProtocolVersion = 1;
// Device ids are short names ("gate-12-north"); a longer one in a Hello is refused.
inline constexpr std::size_t kMaxDeviceIdBytes = 128;

struct IngestOptions {
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port, returned by start()
  std::size_t max_frame_bytes = framing::kDefaultMaxFrameBytes;
  // Connections beyond this are closed at once (after a best-effort "server_busy" frame).
  std::size_t max_connections = 1024;
  // A connection that sends nothing for this long is closed. The Hello must also be complete
  // within this time of connecting, however slowly its bytes trickle in.
  std::chrono::milliseconds idle_timeout{60'000};
  // Announced in HelloAck; a larger TapBatch is a protocol violation.
  std::uint32_t max_batch_taps = 5000;
  // Server time announced in HelloAck, UTC epoch ms. Empty: the system clock.
  std::function<std::int64_t()> utc_now_ms;
  // TLS credentials (server certificate, pinned device CA, revocation list; reloaded as they
  // change). Null: plain TCP, for development and tests only (faregate-backoffice requires
  // --insecure-dev for that).
  std::shared_ptr<tls::ServerCredentials> tls;
  // A TLS handshake not complete within this time of connecting closes the connection.
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  // Deny list and config bundle pushed on BatchAcks to validators that reported older versions
  // in their DeviceHealth. Null: nothing is pushed. Must outlive the server.
  denylist::PushStore* pushes = nullptr;
  // Firmware offered over the air by device group: a BatchAck carries the group's offer when the
  // validator's Hello reported another firmware version, and FirmwareChunkRequests are answered
  // from it. Null: no offers, and chunk requests are refused. Must outlive the server.
  firmware::FirmwareOffers* firmware = nullptr;
};

// Why the server closed a connection on the peer's account. to_string() gives the code sent in
// ProtocolError.code.
enum class Violation : std::uint8_t {
  kFrameTooLarge,       // "frame_too_large": length prefix over max_frame_bytes
  kBadLengthPrefix,     // "bad_length_prefix": not a valid varint
  kTruncatedFrame,      // "truncated_frame": the peer ended the stream inside a frame
  kBadMessage,          // "bad_message": the body is not a ClientFrame
  kEmptyMessage,        // "empty_message": a ClientFrame with no body set
  kUnexpectedMessage,   // "unexpected_message": batch or health before Hello, second Hello
  kUnsupportedVersion,  // "unsupported_version": Hello.protocol_version is not 1
  kBadHello,            // "bad_hello": empty or overlong device_id
  kDeviceMismatch,      // "device_mismatch": a tap of another device than the Hello's
  kBatchTooLarge,       // "batch_too_large": more taps than max_batch_taps
  kBadTap,              // "bad_tap": seq 0 or beyond 2^63-1
  kIdentityMismatch,    // "identity_mismatch": the Hello names another device than the certificate
  kBadChunkRequest,     // "bad_chunk_request": a FirmwareChunkRequest with a bad length or offset
};
inline constexpr std::size_t kViolationCount = 13;
std::string_view to_string(Violation violation);

// A snapshot; every count is since start().
struct IngestCounters {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;  // over max_connections
  std::uint64_t connections_open = 0;
  std::uint64_t hellos = 0;               // HelloAcks sent
  std::uint64_t batches = 0;              // BatchAcks sent
  std::uint64_t taps_inserted = 0;
  std::uint64_t taps_duplicate = 0;
  std::uint64_t taps_conflicting = 0;
  std::uint64_t health_reports = 0;
  std::uint64_t idle_timeouts = 0;       // after Hello: nothing received for idle_timeout
  std::uint64_t handshake_timeouts = 0;  // no complete Hello within idle_timeout of connecting
  std::uint64_t store_errors = 0;         // the store failed; the peer got "store_error"
  std::array<std::uint64_t, kViolationCount> violations{};
  std::uint64_t tls_handshakes = 0;          // completed, peer certificate verified
  std::uint64_t tls_handshake_timeouts = 0;  // not complete within tls_handshake_timeout
  std::array<std::uint64_t, tls::kHandshakeFailureCount> tls_failures{};  // per reason
  std::uint64_t deny_list_pushes = 0;  // BatchAcks that carried a DenyListDelta
  std::uint64_t config_pushes = 0;     // BatchAcks that carried a ConfigBundle
  std::uint64_t push_errors = 0;       // pushes the push store could not produce
  std::uint64_t firmware_offers = 0;       // BatchAcks that carried a FirmwareOffer
  std::uint64_t firmware_chunks = 0;       // FirmwareChunks sent
  std::uint64_t firmware_chunk_bytes = 0;  // image bytes in them

  std::uint64_t violation(Violation v) const { return violations[static_cast<std::size_t>(v)]; }
  std::uint64_t tls_failure(tls::HandshakeFailure f) const {
    return tls_failures[static_cast<std::size_t>(f)];
  }
  std::uint64_t total_violations() const;
};

class IngestServer {
 public:
  // `store` must outlive the server.
  explicit IngestServer(store::TapStore& store, IngestOptions options = {});
  ~IngestServer();  // stop()s
  IngestServer(const IngestServer&) = delete;
  IngestServer& operator=(const IngestServer&) = delete;

  // Binds, listens and starts the network and store threads. Returns the bound port.
  // Errors: kInvalidArgument (bad address or options, or already started), kUnavailable (cannot
  // bind, e.g. port in use).
  Result<std::uint16_t> start();

  // Stops accepting, closes idle connections, lets store work in flight finish (and its ack go
  // out, within a short grace period), then joins both threads. Idempotent; call it from any
  // thread but the server's own.
  void stop();

  IngestCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace faregate::ingest
