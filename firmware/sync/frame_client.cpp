#include "firmware/sync/frame_client.h"

#include <array>
#include <boost/asio.hpp>
#include <optional>

#include "common/tls/tls_stream.h"

namespace faregate::sync {

namespace asio = boost::asio;
using asio::ip::tcp;

struct FrameClient::Impl {
  asio::io_context io;
  tcp::socket socket{io};                 // plain TCP, or moved into `tls_stream` once connected
  std::optional<tls::TlsStream> tls_stream;
  std::shared_ptr<const tls::ClientContext> tls_context;
  std::size_t max_frame_bytes;
  framing::FrameReader reader;
  Impl(std::size_t max, std::shared_ptr<const tls::ClientContext> context)
      : tls_context(std::move(context)), max_frame_bytes(max), reader(max) {}

  tcp::socket& lowest() { return tls_stream ? tls_stream->lowest_layer() : socket; }
  bool is_open() { return lowest().is_open(); }

  template <typename Handler>
  void async_write(const std::string& bytes, Handler handler) {
    if (tls_stream) {
      asio::async_write(*tls_stream, asio::buffer(bytes), std::move(handler));
    } else {
      asio::async_write(socket, asio::buffer(bytes), std::move(handler));
    }
  }
  template <typename Handler>
  void async_read_some(asio::mutable_buffer into, Handler handler) {
    if (tls_stream) {
      tls_stream->async_read_some(into, std::move(handler));
    } else {
      socket.async_read_some(into, std::move(handler));
    }
  }

  // Runs the io_context until `done` or the deadline; on the deadline cancels the socket and
  // drains the cancelled handlers so that nothing outlives this call.
  bool run_until(const bool& done, std::chrono::milliseconds timeout) {
    io.restart();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      io.run_one_until(deadline);
    }
    if (done) return true;
    boost::system::error_code ignored;
    lowest().cancel(ignored);
    io.restart();
    io.run();
    return false;
  }
};

FrameClient::FrameClient(std::size_t max_frame_bytes,
                         std::shared_ptr<const tls::ClientContext> tls)
    : impl_(std::make_unique<Impl>(max_frame_bytes, std::move(tls))) {}
FrameClient::~FrameClient() { close(); }

bool FrameClient::is_tls() const { return impl_->tls_context != nullptr; }

Status FrameClient::connect(const std::string& host, std::uint16_t port,
                            std::chrono::milliseconds timeout) {
  close();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string where = host + ":" + std::to_string(port);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  std::vector<tcp::endpoint> targets;
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
  impl_->socket.set_option(tcp::no_delay(true), ec);
  if (!impl_->tls_context) return {};

  auto engine = tls::Engine::client(impl_->tls_context);
  if (!engine) {
    close();
    return std::unexpected(engine.error());
  }
  impl_->tls_stream.emplace(std::move(impl_->socket), std::move(*engine));
  done = false;
  impl_->tls_stream->async_handshake([&](const boost::system::error_code& e) {
    result = e;
    done = true;
  });
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (!impl_->run_until(done, std::max(left, std::chrono::milliseconds(1)))) {
    close();
    return make_error(ErrorCode::kTimeout, "TLS handshake with " + where + " timed out");
  }
  if (result) {
    const tls::HandshakeFailure reason = impl_->tls_stream->handshake_failure(result);
    close();
    const ErrorCode code =
        reason == tls::HandshakeFailure::kClosed ? ErrorCode::kUnavailable : ErrorCode::kCrypto;
    return make_error(code, "TLS handshake with " + where + " failed: " +
                                std::string(tls::to_string(reason)) + " (" + result.message() +
                                ")");
  }
  return {};
}

Status FrameClient::send(const faregate::v1::ClientFrame& frame,
                         std::chrono::milliseconds timeout) {
  if (!impl_->is_open()) return make_error(ErrorCode::kUnavailable, "not connected");
  std::string bytes;
  if (!framing::encode_frame(frame, bytes)) {
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

Result<faregate::v1::ServerFrame> FrameClient::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<char, 16 * 1024> chunk{};
  for (;;) {
    if (auto body = impl_->reader.next()) {
      if (!*body) {
        close();
        return make_error(ErrorCode::kProtocol,
                          std::string("bad frame from server: ") +
                              std::string(framing::to_string(body->error())));
      }
      faregate::v1::ServerFrame frame;
      if (auto parsed = framing::parse_body(**body, frame); !parsed) {
        close();
        return make_error(ErrorCode::kProtocol, "unparseable server frame");
      }
      return frame;
    }
    if (!impl_->is_open()) return make_error(ErrorCode::kUnavailable, "not connected");
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      close();
      return make_error(ErrorCode::kTimeout, "no answer from the back office in time");
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
    if (!impl_->run_until(done, std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - now))) {
      close();
      return make_error(ErrorCode::kTimeout, "no answer from the back office in time");
    }
    if (result) {
      close();
      return make_error(ErrorCode::kUnavailable,
                        "connection closed by the back office: " + result.message());
    }
    if (auto appended = impl_->reader.append(std::string_view(chunk.data(), received));
        !appended) {
      close();
      return make_error(ErrorCode::kProtocol,
                        std::string("bad frame from server: ") +
                            std::string(framing::to_string(appended.error())));
    }
  }
}

void FrameClient::close() {
  boost::system::error_code ignored;
  tcp::socket& socket = impl_->lowest();
  if (socket.is_open()) {
    if (impl_->tls_stream && impl_->tls_stream->engine().handshake_complete()) {
      // A best-effort close_notify that never waits: the back office then tells a clean end of
      // session from a cut line in its log.
      auto& engine = impl_->tls_stream->engine();
      if (engine.close_notify().outcome == tls::Engine::Outcome::kDone) {
        const std::string alert = engine.take_output();
        socket.non_blocking(true, ignored);
        socket.send(asio::buffer(alert), 0, ignored);
      }
    }
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
  impl_->tls_stream.reset();
  // A new connection starts a new stream: drop whatever half frame the old one left behind.
  impl_->reader = framing::FrameReader(impl_->max_frame_bytes);
}

}  // namespace faregate::sync
