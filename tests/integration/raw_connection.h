#pragma once
// A plain blocking loopback TCP connection for tests that must send bytes no well-behaved client
// would (hostile frames) and read whatever comes back.

#include <chrono>
#include <cstdint>
#include <string>

namespace faregate::testing {

class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool send(const std::string& bytes);
  // Reads until the peer closes or `timeout` passes; returns what arrived.
  std::string read_until_closed(std::chrono::milliseconds timeout);
  bool closed_by_peer() const { return closed_by_peer_; }

 private:
  int fd_ = -1;
  bool closed_by_peer_ = false;
};

}  // namespace faregate::testing
