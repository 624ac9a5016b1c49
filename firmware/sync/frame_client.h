#pragma once
// A small client-side frame channel for the sync protocol: connect (TCP, then the TLS handshake
// when a client context is given), send a ClientFrame, receive a ServerFrame, each bounded by a
// deadline. A tls::FrameChannel does the work on the calling thread (the sync thread), so nothing
// here blocks another part of the validator. Without a TLS context the channel is plain TCP, for
// development only (faregate-validator requires --insecure-dev for that).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/tls/frame_channel.h"
#include "common/tls/tls_context.h"
#include "faregate/v1/sync.pb.h"
#include "proto/framing.h"

namespace faregate::sync {

class FrameClient {
 public:
  explicit FrameClient(std::size_t max_frame_bytes = framing::kDefaultMaxFrameBytes,
                       std::shared_ptr<const tls::ClientContext> tls = nullptr);
  ~FrameClient();
  FrameClient(const FrameClient&) = delete;
  FrameClient& operator=(const FrameClient&) = delete;

  // Connects and, with TLS, completes the handshake, all within `timeout`. Errors: kUnavailable
  // (refused, unreachable, closed during the handshake), kTimeout, kCrypto (the back office's
  // certificate is not from the pinned CA, is for another name, expired, ... or it refused
  // ours; the reason is in the message).
  Status connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);
  Status send(const faregate::v1::ClientFrame& frame, std::chrono::milliseconds timeout);
  // Errors: kTimeout, kUnavailable (closed by the peer), kProtocol (bad frame).
  Result<faregate::v1::ServerFrame> receive(std::chrono::milliseconds timeout);
  void close();

  std::uint64_t bytes_sent() const { return channel_.bytes_sent(); }
  bool is_tls() const { return tls_ != nullptr; }

 private:
  std::shared_ptr<const tls::ClientContext> tls_;
  tls::FrameChannel channel_;
};

}  // namespace faregate::sync
