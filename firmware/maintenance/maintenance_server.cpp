#include "firmware/maintenance/maintenance_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/tls/frame_channel.h"
#include "proto/framing.h"

namespace faregate::maintenance {

namespace v1 = faregate::v1;

MaintenanceServer::MaintenanceServer(MaintenanceServerOptions options,
                                     const update::PublicKey& trusted)
    : options_(std::move(options)), trusted_(trusted) {}

MaintenanceServer::~MaintenanceServer() { stop(); }

Result<std::uint16_t> MaintenanceServer::start() {
  if (!options_.tls) {
    return make_error(ErrorCode::kInvalidArgument, "the maintenance port needs TLS credentials");
  }
  if (listen_fd_ >= 0) return make_error(ErrorCode::kInvalidArgument, "already started");
  sockaddr_storage address{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (::inet_pton(AF_INET, options_.listen_address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options_.port);
    length = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, options_.listen_address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options_.port);
    length = sizeof(sockaddr_in6);
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      "maintenance listen address '" + options_.listen_address +
                          "' is not an IP address");
  }
  const std::string where = options_.listen_address + ":" + std::to_string(options_.port);
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, "socket: " + std::string(std::strerror(errno)));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd, 4) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return make_error(ErrorCode::kUnavailable, "cannot listen on " + where + ": " + why);
  }
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length);
  const std::uint16_t port = ntohs(bound.ss_family == AF_INET6
                                       ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                       : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (::pipe2(wake_, O_CLOEXEC) != 0) {
    ::close(fd);
    return make_error(ErrorCode::kIo, "pipe: " + std::string(std::strerror(errno)));
  }
  listen_fd_ = fd;
  thread_ = std::thread([this] { serve(); });
  spdlog::info("maintenance port listening on {}:{} (mutual TLS, technician certificates only)",
               options_.listen_address, port);
  return port;
}

void MaintenanceServer::stop() {
  if (!thread_.joinable()) return;
  const char byte = 1;
  (void)!::write(wake_[1], &byte, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
  listen_fd_ = -1;
  wake_[0] = wake_[1] = -1;
}

MaintenanceCounters MaintenanceServer::counters() const {
  return MaintenanceCounters{connections_.load(), refused_handshakes_.load(), installs_.load(),
                             refused_images_.load()};
}

void MaintenanceServer::serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("maintenance port: poll failed: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    connections_.fetch_add(1);
    serve_connection(fd);
  }
}

void MaintenanceServer::serve_connection(int fd) {
  tls::FrameChannel channel(kMaxFrameBytes);
  if (auto s = channel.accept(fd, options_.tls, options_.handshake_timeout); !s) {
    refused_handshakes_.fetch_add(1);
    spdlog::warn("maintenance port: connection refused: {}", s.error().message);
    return;
  }
  const auto peer = channel.peer();
  const std::string technician = peer ? peer->common_name : "?";
  spdlog::info("maintenance port: technician {} connected (certificate {})", technician,
               peer ? peer->serial_hex : "?");
  MaintenanceSession session(options_.device, trusted_, [&](const update::SlotState& state) {
    installs_.fetch_add(1);
    spdlog::info("maintenance port: technician {} installed firmware {} in slot {} ({})",
                 technician, state.header.firmware_version, update::slot_letter(state.slot),
                 state.role == update::SlotRole::kPending ? "pending its trial boot" : "active");
    if (options_.on_installed) options_.on_installed(state);
  });
  while (!session.finished()) {
    auto body = channel.receive(options_.idle_timeout);
    if (!body) {
      if (body.error().code != ErrorCode::kUnavailable) {
        spdlog::warn("maintenance port: technician {}: {}", technician, body.error().message);
      }
      return;
    }
    v1::MaintenanceRequest request;
    v1::MaintenanceResponse response;
    if (auto parsed = framing::parse_body(*body, request); !parsed) {
      response.mutable_error()->set_code("bad_request");
      response.mutable_error()->set_message("not a MaintenanceRequest");
      (void)channel.send(response, options_.idle_timeout);
      refused_images_.fetch_add(1);
      return;
    }
    response = session.handle(request);
    if (response.has_error()) {
      refused_images_.fetch_add(1);
      spdlog::warn("maintenance port: technician {}: refused ({}): {}; the current image keeps "
                   "running",
                   technician, response.error().code(), response.error().message());
    }
    if (auto s = channel.send(response, options_.idle_timeout); !s) return;
  }
}

}  // namespace faregate::maintenance
