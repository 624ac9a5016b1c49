#include "tests/integration/tcp_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

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

}  // namespace

TcpRelay::TcpRelay(std::uint16_t target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("relay cannot listen");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpRelay::~TcpRelay() { stop(); }

void TcpRelay::on_server_chunk(std::function<void(std::size_t)> hook) {
  std::lock_guard lock(mutex_);
  hook_ = std::move(hook);
}

std::string TcpRelay::client_bytes() const {
  std::lock_guard lock(mutex_);
  return client_bytes_;
}

std::string TcpRelay::server_bytes() const {
  std::lock_guard lock(mutex_);
  return server_bytes_;
}

void TcpRelay::accept_loop() {
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
    std::lock_guard lock(mutex_);
    fds_.push_back(client);
    fds_.push_back(server);
    pumps_.emplace_back([this, client, server] { pump(client, server, false); });
    pumps_.emplace_back([this, client, server] { pump(server, client, true); });
  }
}

void TcpRelay::pump(int from, int to, bool from_server) {
  char buf[16 * 1024];
  while (!stopping_) {
    pollfd pfd{from, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, 50);
    if (ready == 0) continue;
    if (ready < 0) break;
    const ssize_t n = ::read(from, buf, sizeof(buf));
    if (n <= 0) break;
    std::function<void(std::size_t)> hook;
    std::size_t chunks = 0;
    {
      std::lock_guard lock(mutex_);
      (from_server ? server_bytes_ : client_bytes_).append(buf, static_cast<std::size_t>(n));
      if (from_server) {
        chunks = ++server_chunks_;
        hook = hook_;
      }
    }
    if (::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
    if (hook) hook(chunks);
  }
  // Pass the close on, so each side sees what it would see without the relay.
  ::shutdown(to, SHUT_WR);
  ::shutdown(from, SHUT_RD);
}

void TcpRelay::stop() {
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
