#include "tests/fault/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

namespace faregate::testing {

namespace {

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The length of the first whole frame (prefix + body) in buf, nullopt while incomplete; 0 when
// the prefix is not a varint (the stream is then passed through unframed).
std::optional<std::size_t> whole_frame(const std::string& buf) {
  std::uint64_t length = 0;
  for (std::size_t i = 0; i < buf.size() && i < 10; ++i) {
    const auto byte = static_cast<std::uint8_t>(buf[i]);
    length |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (buf.size() - (i + 1) < length) return std::nullopt;
      return i + 1 + static_cast<std::size_t>(length);
    }
  }
  if (buf.size() >= 10) return 0;
  return std::nullopt;
}

}  // namespace

FaultProxy::FaultProxy(std::uint16_t target_port, std::uint64_t seed, FaultPlan plan)
    : target_port_(target_port), seed_(seed), plan_(plan) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("fault proxy cannot listen");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() { stop(); }

FaultCounts FaultProxy::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

void FaultProxy::accept_loop() {
  std::uint64_t index = 0;
  while (!stopping_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int server = connect_loopback(target_port_);
    if (server < 0) {
      ::close(client);
      continue;
    }
    // Each direction of each connection draws from its own stream of the seed.
    const std::uint64_t up = seed_ * 1'000'003 + 2 * index;
    const std::uint64_t down = up + 1;
    ++index;
    std::lock_guard lock(mutex_);
    ++counts_.connections;
    fds_.push_back(client);
    fds_.push_back(server);
    pumps_.emplace_back([this, client, server, up] { pump(client, server, up); });
    pumps_.emplace_back([this, client, server, down] { pump(server, client, down); });
  }
}

void FaultProxy::pump(int from, int to, std::uint64_t stream_seed) {
  std::mt19937_64 rng(stream_seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::string pending;
  char buf[16 * 1024];
  bool cut = false;
  while (!stopping_ && !cut) {
    pollfd pfd{from, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, 50);
    if (ready == 0) continue;
    if (ready < 0) break;
    const ssize_t n = ::read(from, buf, sizeof(buf));
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    bool failed = false;
    while (!failed) {
      const auto size = whole_frame(pending);
      if (!size) break;
      if (*size == 0) {  // not framed: pass everything through as is
        failed = !send_all(to, pending);
        pending.clear();
        break;
      }
      const std::string frame = pending.substr(0, *size);
      pending.erase(0, *size);
      const double draw = unit(rng);
      const auto delay_ms = std::uniform_int_distribution<std::int64_t>(
          1, std::max<std::int64_t>(1, plan_.max_delay.count()))(rng);
      double edge = 0.0;
      enum class Action { kForward, kDrop, kDelay, kTruncate, kDuplicate } action = Action::kForward;
      if (enabled_) {
        if (draw < (edge += plan_.drop)) {
          action = Action::kDrop;
        } else if (draw < (edge += plan_.delay)) {
          action = Action::kDelay;
        } else if (draw < (edge += plan_.truncate)) {
          action = Action::kTruncate;
        } else if (draw < (edge += plan_.duplicate)) {
          action = Action::kDuplicate;
        }
      }
      {
        std::lock_guard lock(mutex_);
        ++counts_.frames;
        switch (action) {
          case Action::kDrop: ++counts_.dropped; break;
          case Action::kDelay: ++counts_.delayed; break;
          case Action::kTruncate: ++counts_.truncated; break;
          case Action::kDuplicate: ++counts_.duplicated; break;
          case Action::kForward: break;
        }
      }
      switch (action) {
        case Action::kForward:
          failed = !send_all(to, frame);
          break;
        case Action::kDrop:
          break;
        case Action::kDelay:
          // A slow network, injected on purpose (not a wait for an event).
          std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
          failed = !send_all(to, frame);
          break;
        case Action::kTruncate:
          (void)send_all(to, std::string_view(frame).substr(0, frame.size() / 2));
          cut = true;
          failed = true;
          break;
        case Action::kDuplicate:
          failed = !send_all(to, frame) || !send_all(to, frame);
          break;
      }
    }
    if (failed) break;
  }
  // A truncation cuts the whole connection, as a broken link would; otherwise pass the close on.
  if (cut) {
    ::shutdown(to, SHUT_RDWR);
    ::shutdown(from, SHUT_RDWR);
  } else {
    ::shutdown(to, SHUT_WR);
    ::shutdown(from, SHUT_RD);
  }
}

void FaultProxy::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> pumps;
  {
    std::lock_guard lock(mutex_);
    pumps.swap(pumps_);
  }
  for (auto& t : pumps) t.join();
  for (int fd : fds_) ::close(fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

}  // namespace faregate::testing
