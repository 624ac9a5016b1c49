#pragma once
// A small client-side frame channel for the sync protocol: connect, send a ClientFrame, receive a
// ServerFrame, each bounded by a deadline. It runs its own io_context on the calling thread (the
// sync thread), so nothing here blocks another part of the validator.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"
#include "faregate/v1/sync.pb.h"
#include "proto/framing.h"

namespace faregate::sync {

class FrameClient {
 public:
  FrameClient(std::size_t max_frame_bytes = framing::kDefaultMaxFrameBytes);
  ~FrameClient();
  FrameClient(const FrameClient&) = delete;
  FrameClient& operator=(const FrameClient&) = delete;

  // Errors: kUnavailable (refused, unreachable), kTimeout.
  Status connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);
  Status send(const faregate::v1::ClientFrame& frame, std::chrono::milliseconds timeout);
  // Errors: kTimeout, kUnavailable (closed by the peer), kProtocol (bad frame).
  Result<faregate::v1::ServerFrame> receive(std::chrono::milliseconds timeout);
  void close();

  std::uint64_t bytes_sent() const { return bytes_sent_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint64_t bytes_sent_ = 0;
};

}  // namespace faregate::sync
