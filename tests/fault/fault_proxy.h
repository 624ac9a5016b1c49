#pragma once
// FaultProxy: a loopback TCP proxy for the sync protocol that understands its framing
// (varint length + body, proto/framing.h) and, frame by frame and in both directions, forwards,
// drops, delays, truncates (half the frame, then both connections close) or duplicates it, with
// probabilities from a FaultPlan and a seeded generator per connection and direction, so a run
// repeats its decisions for the same sequence of connections. Plain TCP only: it must see the
// frames.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace faregate::testing {

struct FaultPlan {
  // Probabilities per frame, each in [0, 1], summing to at most 1; the rest is forwarded as is.
  double drop = 0.0;
  double delay = 0.0;
  double truncate = 0.0;
  double duplicate = 0.0;
  std::chrono::milliseconds max_delay{50};
};

struct FaultCounts {
  std::uint64_t frames = 0;
  std::uint64_t dropped = 0;
  std::uint64_t delayed = 0;
  std::uint64_t truncated = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t connections = 0;
};

class FaultProxy {
 public:
  // Binds 127.0.0.1 on an ephemeral port and starts accepting. Throws std::runtime_error if it
  // cannot listen (test set-up).
  FaultProxy(std::uint16_t target_port, std::uint64_t seed, FaultPlan plan);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::uint16_t port() const { return port_; }
  // Faults apply only while enabled (on by default); off, every frame is forwarded as is.
  void set_enabled(bool enabled) { enabled_ = enabled; }
  FaultCounts counts() const;
  void stop();

 private:
  void accept_loop();
  void pump(int from, int to, std::uint64_t stream_seed);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t target_port_;
  std::uint64_t seed_;
  FaultPlan plan_;
  std::atomic<bool> enabled_{true};
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::thread> pumps_;
  std::vector<int> fds_;
  FaultCounts counts_;
};

}  // namespace faregate::testing
