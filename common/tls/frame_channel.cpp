#include "common/tls/frame_channel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <vector>

#include "common/tls/tls_stream.h"
#include "proto/framing.h"

namespace faregate::tls {

namespace asio = boost::asio;
using asio::ip::tcp;

struct FrameChannel::Impl {
  asio::io_context io;
  tcp::socket socket{io};  // plain TCP, or moved into `stream` once the handshake starts
  std::optional<TlsStream> stream;
  std::size_t max_frame_bytes;
  FrameChannelStyle style;
  framing::FrameReader reader;
  Impl(std::size_t max, FrameChannelStyle s)
      : max_frame_bytes(max), style(std::move(s)), reader(max) {}

  tcp::socket& lowest() { return stream ? stream->lowest_layer() : socket; }
  bool is_open() { return lowest().is_open(); }

  template <typename Handler>
  void async_write(const std::string& bytes, Handler handler) {
    if (stream) {
      asio::async_write(*stream, asio::buffer(bytes), std::move(handler));
    } else {
      asio::async_write(socket, asio::buffer(bytes), std::move(handler));
    }
  }
  template <typename Handler>
  void async_read_some(asio::mutable_buffer into, Handler handler) {
    if (stream) {
      stream->async_read_some(into, std::move(handler));
    } else {
      socket.async_read_some(into, std::move(handler));
    }
  }

  // Runs the io_context until `done` or the deadline; on the deadline cancels the socket and
  // drains the cancelled handlers so that nothing outlives the call.
  bool run_until(const bool& done, std::chrono::milliseconds timeout) {
    io.restart();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < deadline) io.run_one_until(deadline);
    if (done) return true;
    boost::system::error_code ignored;
    lowest().cancel(ignored);
    io.restart();
    io.run();
    return false;
  }

  Status handshake(Engine engine, std::chrono::milliseconds timeout, const std::string& who) {
    stream.emplace(std::move(socket), std::move(engine));
    bool done = false;
    boost::system::error_code result;
    stream->async_handshake([&](const boost::system::error_code& e) {
      result = e;
      done = true;
    });
    if (!run_until(done, timeout)) {
      return make_error(ErrorCode::kTimeout, "TLS handshake with " + who + " timed out");
    }
    if (result) {
      const HandshakeFailure reason = stream->handshake_failure(result);
      return make_error(
          reason == HandshakeFailure::kClosed ? ErrorCode::kUnavailable : ErrorCode::kCrypto,
          "TLS handshake with " + who + " failed: " + std::string(to_string(reason)) + " (" +
              result.message() + ")");
    }
    return {};
  }
};

FrameChannel::FrameChannel(std::size_t max_frame_bytes, FrameChannelStyle style)
    : impl_(std::make_unique<Impl>(max_frame_bytes, std::move(style))) {}
FrameChannel::~FrameChannel() { close(); }

Status FrameChannel::connect(const std::string& host, std::uint16_t port,
                             std::shared_ptr<const ClientContext> tls,
                             std::chrono::milliseconds timeout) {
  close();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string where = host + ":" + std::to_string(port);
  boost::system::error_code ec;
  std::vector<tcp::endpoint> targets;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    targets.emplace_back(address, port);
  } else {
    tcp::resolver resolver(impl_->io);
    for (const auto& entry : resolver.resolve(host, std::to_string(port), ec)) {
      targets.push_back(entry.endpoint());
    }
    if (ec || targets.empty()) {
      return make_error(ErrorCode::kUnavailable, "cannot resolve " + host + ": " + ec.message());
    }
  }
  bool done = false;
  boost::system::error_code result;
  asio::async_connect(impl_->socket, targets,
                      [&](const boost::system::error_code& e, const tcp::endpoint&) {
                        result = e;
                        done = true;
                      });
  if (!impl_->run_until(done, timeout)) {
    close();
    return make_error(ErrorCode::kTimeout, "connect to " + where + " timed out");
  }
  if (result) {
    close();
    return make_error(ErrorCode::kUnavailable, "connect to " + where + ": " + result.message());
  }
  if (impl_->style.tcp_no_delay) impl_->socket.set_option(tcp::no_delay(true), ec);
  if (!tls) return {};

  auto engine = Engine::client(std::move(tls));
  if (!engine) {
    close();
    return std::unexpected(engine.error());
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (auto s = impl_->handshake(std::move(*engine), std::max(left, std::chrono::milliseconds(1)),
                                where);
      !s) {
    close();
    return s;
  }
  return {};
}

Status FrameChannel::accept(int socket_fd, std::shared_ptr<const ServerContext> tls,
                            std::chrono::milliseconds timeout) {
  close();
  boost::system::error_code ec;
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  const bool v6 = ::getsockname(socket_fd, reinterpret_cast<sockaddr*>(&local), &length) == 0 &&
                  local.ss_family == AF_INET6;
  impl_->socket.assign(v6 ? tcp::v6() : tcp::v4(), socket_fd, ec);
  if (ec) {
    ::close(socket_fd);
    return make_error(ErrorCode::kIo, "cannot use the accepted socket: " + ec.message());
  }
  const auto remote = impl_->socket.remote_endpoint(ec);
  const std::string who =
      ec ? "peer" : remote.address().to_string() + ":" + std::to_string(remote.port());
  auto engine = Engine::server(std::move(tls));
  if (!engine) {
    close();
    return std::unexpected(engine.error());
  }
  if (auto s = impl_->handshake(std::move(*engine), timeout, who); !s) {
    close();
    return s;
  }
  return {};
}

std::optional<PeerIdentity> FrameChannel::peer() const {
  if (!impl_->stream) return std::nullopt;
  return impl_->stream->peer();
}

Status FrameChannel::send(const google::protobuf::MessageLite& message,
                          std::chrono::milliseconds timeout) {
  if (!impl_->is_open()) return make_error(ErrorCode::kUnavailable, "not connected");
  std::string bytes;
  if (!framing::encode_frame(message, bytes)) {
    return make_error(ErrorCode::kInternal, "cannot serialize frame");
  }
  bool done = false;
  boost::system::error_code result;
  impl_->async_write(bytes, [&](const boost::system::error_code& e, std::size_t) {
    result = e;
    done = true;
  });
  if (!impl_->run_until(done, timeout)) {
    close();
    return make_error(ErrorCode::kTimeout, "send timed out");
  }
  if (result) {
    close();
    return make_error(ErrorCode::kUnavailable, "send failed: " + result.message());
  }
  bytes_sent_ += bytes.size();
  return {};
}

Result<std::string> FrameChannel::receive(std::chrono::milliseconds timeout) {
  const FrameChannelStyle& style = impl_->style;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<char, 16 * 1024> chunk{};
  for (;;) {
    if (auto body = impl_->reader.next()) {
      if (!*body) {
        close();
        return make_error(ErrorCode::kProtocol,
                          style.bad_frame_prefix + std::string(framing::to_string(body->error())));
      }
      return std::string(**body);
    }
    if (!impl_->is_open()) return make_error(ErrorCode::kUnavailable, "not connected");
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      close();
      return make_error(ErrorCode::kTimeout, style.receive_timeout);
    }
    bool done = false;
    boost::system::error_code result;
    std::size_t received = 0;
    impl_->async_read_some(asio::buffer(chunk),
                           [&](const boost::system::error_code& e, std::size_t n) {
                             result = e;
                             received = n;
                             done = true;
                           });
    if (!impl_->run_until(done,
                          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now))) {
      close();
      return make_error(ErrorCode::kTimeout, style.receive_timeout);
    }
    if (result) {
      close();
      return make_error(ErrorCode::kUnavailable, style.closed_prefix + result.message());
    }
    if (auto appended = impl_->reader.append(std::string_view(chunk.data(), received));
        !appended) {
      close();
      return make_error(ErrorCode::kProtocol, style.bad_frame_prefix +
                                                  std::string(framing::to_string(appended.error())));
    }
  }
}

void FrameChannel::close() {
  boost::system::error_code ignored;
  tcp::socket& socket = impl_->lowest();
  if (socket.is_open()) {
    if (impl_->stream && impl_->stream->engine().handshake_complete()) {
      // A best-effort close_notify that never waits: the peer then tells a clean end of session
      // from a cut line in its log.
      auto& engine = impl_->stream->engine();
      if (engine.close_notify().outcome == Engine::Outcome::kDone) {
        const std::string alert = engine.take_output();
        socket.non_blocking(true, ignored);
        socket.send(asio::buffer(alert), 0, ignored);
      }
    }
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
  impl_->stream.reset();
  impl_->socket = tcp::socket(impl_->io);
  // A new connection starts a new stream: drop whatever half frame the old one left behind.
  impl_->reader = framing::FrameReader(impl_->max_frame_bytes);
}

}  // namespace faregate::tls
