#pragma once
// tls::FrameChannel: one connection carrying length-prefixed protobuf frames (proto/framing.h)
// over a TlsStream, either end: connect() for a client (a device syncing with the back office,
// faregate-flash talking to a validator), accept() for a server socket (the validator's
// maintenance port). Every call is bounded by a deadline; the channel runs its own io_context on
// the calling thread, so nothing here blocks any other part of the program.
//
// Not thread-safe: one thread drives one channel.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/tls/tls_context.h"
#include "common/tls/tls_engine.h"

namespace google::protobuf {
class MessageLite;
}

namespace faregate::tls {

// How a channel behaves where its callers differ: the wording of receive() errors (each caller
// names its peer its own way) and whether a client connection disables Nagle's algorithm.
struct FrameChannelStyle {
  std::string receive_timeout = "nothing received in time";
  // Followed by the socket's error text.
  std::string closed_prefix = "connection closed: ";
  // Followed by the framing error (framing::to_string).
  std::string bad_frame_prefix = "bad frame: ";
  bool tcp_no_delay = false;
};

class FrameChannel {
 public:
  explicit FrameChannel(std::size_t max_frame_bytes, FrameChannelStyle style = {});
  ~FrameChannel();
  FrameChannel(const FrameChannel&) = delete;
  FrameChannel& operator=(const FrameChannel&) = delete;

  // Connects and, when `tls` is not null, completes the TLS handshake, all within `timeout`.
  // A null `tls` leaves the connection plain TCP (development only). Errors: kUnavailable
  // (refused, unreachable, closed during the handshake), kTimeout, kCrypto (a handshake refused
  // either way: the reason is in the message).
  Status connect(const std::string& host, std::uint16_t port,
                 std::shared_ptr<const ClientContext> tls, std::chrono::milliseconds timeout);
  // Takes an accepted socket (its file descriptor; the channel owns it from now on) and runs the
  // server side of the handshake within `timeout`. Errors as connect(), plus kIo.
  Status accept(int socket_fd, std::shared_ptr<const ServerContext> tls,
                std::chrono::milliseconds timeout);

  // The verified certificate at the other end, once connected over TLS.
  std::optional<PeerIdentity> peer() const;

  Status send(const google::protobuf::MessageLite& message, std::chrono::milliseconds timeout);
  // The next frame's body. Errors: kTimeout, kUnavailable (closed by the peer), kProtocol (a
  // frame over the limit or a bad length prefix). Any error but "not connected" closes.
  Result<std::string> receive(std::chrono::milliseconds timeout);
  // Sends a best-effort TLS close_notify (never waits), then closes the socket. The next
  // connection starts with an empty frame reader.
  void close();

  // Bytes of frames sent since construction, length prefixes included.
  std::uint64_t bytes_sent() const { return bytes_sent_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint64_t bytes_sent_ = 0;
};

}  // namespace faregate::tls
