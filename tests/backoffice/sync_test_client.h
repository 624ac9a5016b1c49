#pragma once
// A blocking sync-protocol client for the ingest tests and bench/ingest_bench.cpp: real loopback
// TCP, or mutual TLS over it (connect_tls), every wait bounded by a timeout (a test never hangs
// on a server that misbehaves).

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/tls/tls_stream.h"
#include "faregate/v1/sync.pb.h"
#include "proto/framing.h"

namespace faregate::testing {

class SyncTestClient {
 public:
  enum class Event {
    kFrame,     // a ServerFrame arrived
    kClosed,    // the server closed (end of stream or reset)
    kTimeout,   // nothing within the timeout
    kBadFrame,  // the server sent something that is not a ServerFrame
  };
  struct Received {
    Event event = Event::kTimeout;
    faregate::v1::ServerFrame frame;
  };
  static constexpr std::chrono::milliseconds kWait{5000};

  SyncTestClient() = default;
  SyncTestClient(const SyncTestClient&) = delete;
  SyncTestClient& operator=(const SyncTestClient&) = delete;

  bool connect(std::uint16_t port, std::chrono::milliseconds timeout = kWait) {
    bool done = false;
    boost::system::error_code result;
    const boost::asio::ip::tcp::endpoint target(boost::asio::ip::make_address("127.0.0.1"), port);
    socket_.async_connect(target, [&](const boost::system::error_code& ec) {
      result = ec;
      done = true;
    });
    if (!run_until(done, timeout) || result) return false;
    boost::system::error_code ignored;
    socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
    return true;
  }

  // connect(), then the TLS handshake with `context`. False if either fails; after a failed
  // handshake, tls_failure() says why (as this client saw it).
  bool connect_tls(std::uint16_t port, std::shared_ptr<const tls::ClientContext> context,
                   std::chrono::milliseconds timeout = kWait) {
    if (!connect(port, timeout)) return false;
    auto engine = tls::Engine::client(std::move(context));
    if (!engine) return false;
    tls_.emplace(std::move(socket_), std::move(*engine));
    bool done = false;
    boost::system::error_code result;
    tls_->async_handshake([&](const boost::system::error_code& ec) {
      result = ec;
      done = true;
    });
    if (!run_until(done, timeout)) return false;
    if (result) {
      tls_failure_ = tls_->handshake_failure(result);
      closed_ = true;
      return false;
    }
    return true;
  }
  std::optional<tls::HandshakeFailure> tls_failure() const { return tls_failure_; }
  bool is_tls() const { return tls_.has_value(); }

  bool send_bytes(std::string_view bytes, std::chrono::milliseconds timeout = kWait) {
    bool done = false;
    boost::system::error_code result;
    auto handler = [&](const boost::system::error_code& ec, std::size_t) {
      result = ec;
      done = true;
    };
    if (tls_) {
      boost::asio::async_write(*tls_, boost::asio::buffer(bytes.data(), bytes.size()), handler);
    } else {
      boost::asio::async_write(socket_, boost::asio::buffer(bytes.data(), bytes.size()), handler);
    }
    return run_until(done, timeout) && !result;
  }

  bool send(const faregate::v1::ClientFrame& frame, std::chrono::milliseconds timeout = kWait) {
    return send_bytes(framing::encode_frame(frame), timeout);
  }

  Received receive(std::chrono::milliseconds timeout = kWait) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto body = reader_.next()) {
        Received received;
        received.event = Event::kBadFrame;
        if (*body && framing::parse_body(**body, received.frame)) received.event = Event::kFrame;
        return received;
      }
      if (closed_) return Received{Event::kClosed, {}};
      bool done = false;
      boost::system::error_code result;
      std::size_t got = 0;
      auto handler = [&](const boost::system::error_code& ec, std::size_t n) {
        result = ec;
        got = n;
        done = true;
      };
      if (tls_) {
        tls_->async_read_some(boost::asio::buffer(buffer_), handler);
      } else {
        socket_.async_read_some(boost::asio::buffer(buffer_), handler);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      const bool in_time = run_until(done, left);
      if (got > 0) (void)reader_.append(std::string_view(buffer_.data(), got));
      if (result && result != boost::asio::error::operation_aborted) closed_ = true;
      if (!in_time && got == 0 && !closed_) return Received{Event::kTimeout, {}};
    }
  }

  // Ends our side of the stream; the server sees end of stream.
  void shutdown_send() {
    boost::system::error_code ignored;
    lowest().shutdown(boost::asio::socket_base::shutdown_send, ignored);
  }

  void close() {
    boost::system::error_code ignored;
    lowest().close(ignored);
  }

  static faregate::v1::ClientFrame hello(const std::string& device_id,
                                         std::uint64_t last_journaled_seq = 0,
                                         std::uint32_t protocol_version = 1) {
    faregate::v1::ClientFrame frame;
    auto* hello = frame.mutable_hello();
    hello->set_device_id(device_id);
    hello->set_firmware_version("1.4.0");
    hello->set_protocol_version(protocol_version);
    hello->set_last_journaled_seq(last_journaled_seq);
    return frame;
  }

  static faregate::v1::ClientFrame batch(const std::vector<faregate::v1::TapRecord>& taps) {
    faregate::v1::ClientFrame frame;
    auto* batch = frame.mutable_tap_batch();
    for (const auto& tap : taps) *batch->add_taps() = tap;
    return frame;
  }

  // Hello, then the HelloAck; nullopt if anything else happened.
  std::optional<faregate::v1::HelloAck> say_hello(const std::string& device_id,
                                                  std::uint64_t last_journaled_seq = 0) {
    if (!send(hello(device_id, last_journaled_seq))) return std::nullopt;
    auto reply = receive();
    if (reply.event != Event::kFrame || !reply.frame.has_hello_ack()) return std::nullopt;
    return reply.frame.hello_ack();
  }

  // A TapBatch, then its BatchAck; nullopt if anything else happened.
  std::optional<faregate::v1::BatchAck> send_batch(
      const std::vector<faregate::v1::TapRecord>& taps) {
    return send_batch_frame(batch(taps));
  }
  std::optional<faregate::v1::BatchAck> send_batch_frame(const faregate::v1::ClientFrame& frame) {
    if (!send(frame)) return std::nullopt;
    auto reply = receive();
    if (reply.event != Event::kFrame || !reply.frame.has_batch_ack()) return std::nullopt;
    return reply.frame.batch_ack();
  }

  // The ProtocolError the server sent before closing, or nullopt if it closed without one or did
  // not close within the timeout.
  std::optional<faregate::v1::ProtocolError> expect_error_and_close(
      std::chrono::milliseconds timeout = kWait) {
    auto first = receive(timeout);
    if (first.event != Event::kFrame || !first.frame.has_error()) return std::nullopt;
    if (receive(timeout).event != Event::kClosed) return std::nullopt;
    return first.frame.error();
  }

 private:
  // Runs the io_context until `done` or the timeout; on timeout cancels the operation and waits
  // for its handler, so that nothing refers to this frame's locals afterwards.
  bool run_until(const bool& done, std::chrono::milliseconds timeout) {
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < deadline) io_.run_one_until(deadline);
    if (done) return true;
    boost::system::error_code ignored;
    lowest().cancel(ignored);
    io_.restart();
    while (!done) io_.run_one();
    return false;
  }

  boost::asio::ip::tcp::socket& lowest() { return tls_ ? tls_->lowest_layer() : socket_; }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_{io_};  // moved into tls_ by connect_tls
  std::optional<tls::TlsStream> tls_;
  std::optional<tls::HandshakeFailure> tls_failure_;
  framing::FrameReader reader_;
  std::array<char, 64 * 1024> buffer_{};
  bool closed_ = false;
};

}  // namespace faregate::testing
