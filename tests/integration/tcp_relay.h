#pragma once
// A recording TCP relay for integration tests: listens on a loopback port, forwards each accepted
// connection to a target port, keeps a copy of every byte in both directions, and calls a hook on
// every chunk coming back from the server (so a test can act at a precise protocol moment, e.g.
// kill the server after its third answer). One thread per direction; stop() joins them all.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace faregate::testing {

class TcpRelay {
 public:
  // Binds 127.0.0.1 on an ephemeral port and starts accepting.
  explicit TcpRelay(std::uint16_t target_port);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  std::uint16_t port() const { return port_; }
  void retarget(std::uint16_t target_port) { target_port_ = target_port; }

  // Called (on a relay thread) with the number of server->client chunks seen so far.
  void on_server_chunk(std::function<void(std::size_t)> hook);

  std::string client_bytes() const;  // everything clients sent
  std::string server_bytes() const;  // everything servers answered
  void stop();

 private:
  void accept_loop();
  void pump(int from, int to, bool from_server);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<std::uint16_t> target_port_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::thread> pumps_;
  std::vector<int> fds_;
  std::string client_bytes_;
  std::string server_bytes_;
  std::size_t server_chunks_ = 0;
  std::function<void(std::size_t)> hook_;
};

}  // namespace faregate::testing
