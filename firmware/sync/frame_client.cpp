#include "firmware/sync/frame_client.h"

#include <array>
#include <boost/asio.hpp>
#include <optional>

namespace faregate::sync {

namespace asio = boost::asio;
using asio::ip::tcp;

struct FrameClient::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  std::size_t max_frame_bytes;
  framing::FrameReader reader;
  explicit Impl(std::size_t max) : max_frame_bytes(max), reader(max) {}

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
    socket.cancel(ignored);
    io.restart();
    io.run();
    return false;
  }
};

FrameClient::FrameClient(std::size_t max_frame_bytes)
    : impl_(std::make_unique<Impl>(max_frame_bytes)) {}
FrameClient::~FrameClient() { close(); }

Status FrameClient::connect(const std::string& host, std::uint16_t port,
                            std::chrono::milliseconds timeout) {
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
    return make_error(ErrorCode::kTimeout, "connect to " + host + ":" + std::to_string(port) +
                                               " timed out");
  }
  if (result) {
    close();
    return make_error(ErrorCode::kUnavailable,
                      "connect to " + host + ":" + std::to_string(port) + ": " + result.message());
  }
  impl_->socket.set_option(tcp::no_delay(true), ec);
  return {};
}

Status FrameClient::send(const faregate::v1::ClientFrame& frame,
                         std::chrono::milliseconds timeout) {
  if (!impl_->socket.is_open()) return make_error(ErrorCode::kUnavailable, "not connected");
  std::string bytes;
  if (!framing::encode_frame(frame, bytes)) {
    return make_error(ErrorCode::kInternal, "cannot serialize frame");
  }
  bool done = false;
  boost::system::error_code result;
  asio::async_write(impl_->socket, asio::buffer(bytes),
                    [&](const boost::system::error_code& e, std::size_t) {
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
    if (!impl_->socket.is_open()) return make_error(ErrorCode::kUnavailable, "not connected");
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      close();
      return make_error(ErrorCode::kTimeout, "no answer from the back office in time");
    }
    bool done = false;
    boost::system::error_code result;
    std::size_t received = 0;
    impl_->socket.async_read_some(asio::buffer(chunk),
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
  if (impl_->socket.is_open()) {
    impl_->socket.shutdown(tcp::socket::shutdown_both, ignored);
    impl_->socket.close(ignored);
  }
  // A new connection starts a new stream: drop whatever half frame the old one left behind.
  impl_->reader = framing::FrameReader(impl_->max_frame_bytes);
}

}  // namespace faregate::sync
