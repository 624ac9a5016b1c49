#pragma once
// tls::TlsStream: an asynchronous TLS stream over a Boost.Asio TCP socket, driven by a tls::Engine
// (mbedTLS on memory buffers). It models Asio's AsyncReadStream and AsyncWriteStream, so that
// asio::async_write and the ingest session work on it as on a plain socket:
//
//   stream.async_handshake([](error_code ec) { ... });
//   stream.async_read_some(buffer, [](error_code ec, std::size_t n) { ... });
//   asio::async_write(stream, buffer, handler);
//   stream.async_shutdown([](error_code ec) { ... });   // close_notify, then TCP half-close
//
// Nothing blocks: every wait is an Asio socket operation; mbedTLS runs in the completion
// handlers, on the thread that runs the io_context.
//
// Rules (as for asio::ssl::stream): the handshake runs alone; afterwards at most one read and one
// write (or shutdown) may be outstanding at a time. The stream must not move while an operation
// is outstanding. Errors: asio::error::eof when the peer closed (close_notify or end of stream),
// Asio's socket errors, and mbedTLS errors in tls_category() (handshake_failure() classifies
// them). Closing the socket (lowest_layer().close()) cancels what is outstanding.
//
// Memory per stream: one 16 KiB read chunk, mbedTLS's two record buffers, and at most
// kMaxWriteChunk bytes of ciphertext being sent.

#include <mbedtls/ssl.h>

#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio.hpp>

#include "common/tls/tls_engine.h"

namespace faregate::tls {

const boost::system::error_category& tls_category();
// An mbedTLS error code (negative) as an error_code in tls_category().
boost::system::error_code make_tls_error_code(int mbedtls_code);

class TlsStream {
 public:
  using socket_type = boost::asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;
  using lowest_layer_type = socket_type;
  // Plaintext encrypted per write operation at most (four full records).
  static constexpr std::size_t kMaxWriteChunk = 64 * 1024;
  static constexpr std::size_t kReadChunk = 16 * 1024;

  TlsStream(socket_type socket, Engine engine)
      : socket_(std::move(socket)), engine_(std::move(engine)), read_buffer_(kReadChunk) {}
  TlsStream(TlsStream&&) noexcept = default;
  TlsStream& operator=(TlsStream&&) noexcept = default;

  executor_type get_executor() { return socket_.get_executor(); }
  socket_type& lowest_layer() { return socket_; }
  socket_type& next_layer() { return socket_; }
  Engine& engine() { return engine_; }
  const Engine& engine() const { return engine_; }
  std::optional<PeerIdentity> peer() const { return engine_.peer(); }

  // Why a handshake that completed with `ec` failed.
  HandshakeFailure handshake_failure(const boost::system::error_code& ec) const;

  template <typename Token>
  auto async_handshake(Token&& token);
  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token);
  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token);
  // Sends close_notify, then shuts the socket down for sending. The socket stays open for reads.
  template <typename Token>
  auto async_shutdown(Token&& token);

 private:
  template <typename Kind>
  friend struct TlsOperation;

  socket_type socket_;
  Engine engine_;
  std::vector<char> read_buffer_;
  bool flushing_ = false;  // a ciphertext write is on the socket
};

// ---- implementation ----

namespace op_kind {
struct Handshake {};
struct Read {};
struct Write {};
struct Shutdown {};
}  // namespace op_kind

// One operation: calls into the engine, sends what it produced, reads more ciphertext when it
// wants some, until the call completes. Completion never happens inside the initiating call.
template <typename Kind>
struct TlsOperation {
  static constexpr bool kWithSize =
      std::is_same_v<Kind, op_kind::Read> || std::is_same_v<Kind, op_kind::Write>;
  enum class State { kStart, kReading, kFlushing, kWaitingForFlush, kPosted };

  explicit TlsOperation(TlsStream* owner) : stream(owner) {}

  TlsStream* stream;
  boost::asio::mutable_buffer read_into{};
  boost::asio::const_buffer write_from{};
  State state = State::kStart;
  Engine::Step step{};
  bool finished = false;
  bool suspended_once = false;  // a completion after this is not inside the initiating call
  std::string ciphertext;

  template <typename Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
    switch (state) {
      case State::kPosted:
        complete(self);
        return;
      case State::kFlushing:
        stream->flushing_ = false;
        ciphertext.clear();
        if (ec) {
          complete_with(self, ec, 0);
          return;
        }
        proceed(self);
        return;
      case State::kWaitingForFlush:
        proceed(self);
        return;
      case State::kReading:
        if (ec == boost::asio::error::eof) {
          stream->engine_.feed_end_of_stream();
        } else if (ec) {
          complete_with(self, ec, 0);
          return;
        } else {
          stream->engine_.feed(std::string_view(stream->read_buffer_.data(), n));
        }
        break;
      case State::kStart:
        break;
    }
    attempt();
    proceed(self);
  }

 private:
  void attempt() {
    Engine& engine = stream->engine_;
    if constexpr (std::is_same_v<Kind, op_kind::Handshake>) {
      step = engine.handshake();
    } else if constexpr (std::is_same_v<Kind, op_kind::Read>) {
      step = engine.read({static_cast<std::uint8_t*>(read_into.data()), read_into.size()});
    } else if constexpr (std::is_same_v<Kind, op_kind::Write>) {
      if (!engine.handshake_complete()) {
        step = {Engine::Outcome::kFailed, 0, MBEDTLS_ERR_SSL_BAD_INPUT_DATA};
      } else {
        const std::size_t n = std::min(write_from.size(), TlsStream::kMaxWriteChunk);
        step = engine.write({static_cast<const std::uint8_t*>(write_from.data()), n});
      }
    } else {
      step = engine.close_notify();
    }
    finished = step.outcome != Engine::Outcome::kWantRead;
  }

  // After an engine call or a flush: send pending output, then finish or read more.
  template <typename Self>
  void proceed(Self& self) {
    Engine& engine = stream->engine_;
    if (engine.has_output()) {
      if (!stream->flushing_) {
        ciphertext = engine.take_output();
        stream->flushing_ = true;
        state = State::kFlushing;
        suspended_once = true;
        boost::asio::async_write(stream->socket_, boost::asio::buffer(ciphertext), std::move(self));
        return;
      }
      // Another operation's ciphertext is on the socket. A read leaves its output (an alert) for
      // that write to carry; anything else waits its turn, because its bytes must go out. The
      // wait re-posts itself until that write completes; it happens only when a write starts
      // while a read is flushing an alert (the sync protocol is half-duplex, so hardly ever).
      if (!std::is_same_v<Kind, op_kind::Read>) {
        state = State::kWaitingForFlush;
        suspended_once = true;
        boost::asio::post(stream->socket_.get_executor(), std::move(self));
        return;
      }
    }
    if (!finished) {
      state = State::kReading;
      suspended_once = true;
      stream->socket_.async_read_some(
          boost::asio::buffer(stream->read_buffer_.data(), stream->read_buffer_.size()),
          std::move(self));
      return;
    }
    if (!suspended_once) {
      state = State::kPosted;
      suspended_once = true;
      boost::asio::post(stream->socket_.get_executor(), std::move(self));
      return;
    }
    complete(self);
  }

  template <typename Self>
  void complete(Self& self) {
    boost::system::error_code ec;
    switch (step.outcome) {
      case Engine::Outcome::kDone: break;
      case Engine::Outcome::kWantRead:  // cannot happen: only finished steps complete
      case Engine::Outcome::kFailed: ec = make_tls_error_code(step.code); break;
      case Engine::Outcome::kClosed:
        ec = std::is_same_v<Kind, op_kind::Handshake>
                 ? make_tls_error_code(step.code != 0 ? step.code : MBEDTLS_ERR_SSL_CONN_EOF)
                 : boost::system::error_code(boost::asio::error::eof);
        break;
    }
    if constexpr (std::is_same_v<Kind, op_kind::Shutdown>) {
      if (!ec) {
        boost::system::error_code ignored;
        stream->socket_.shutdown(boost::asio::socket_base::shutdown_send, ignored);
      }
    }
    complete_with(self, ec, ec ? 0 : step.bytes);
  }

  template <typename Self>
  void complete_with(Self& self, boost::system::error_code ec, std::size_t n) {
    if constexpr (kWithSize) {
      self.complete(ec, n);
    } else {
      (void)n;
      self.complete(ec);
    }
  }
};

template <typename Token>
auto TlsStream::async_handshake(Token&& token) {
  return boost::asio::async_compose<Token, void(boost::system::error_code)>(
      TlsOperation<op_kind::Handshake>{this}, token, socket_);
}

template <typename MutableBuffers, typename Token>
auto TlsStream::async_read_some(const MutableBuffers& buffers, Token&& token) {
  TlsOperation<op_kind::Read> op{this};
  for (auto it = boost::asio::buffer_sequence_begin(buffers);
       it != boost::asio::buffer_sequence_end(buffers); ++it) {
    boost::asio::mutable_buffer b(*it);
    if (b.size() > 0) {
      op.read_into = b;
      break;
    }
  }
  return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
      std::move(op), token, socket_);
}

template <typename ConstBuffers, typename Token>
auto TlsStream::async_write_some(const ConstBuffers& buffers, Token&& token) {
  TlsOperation<op_kind::Write> op{this};
  for (auto it = boost::asio::buffer_sequence_begin(buffers);
       it != boost::asio::buffer_sequence_end(buffers); ++it) {
    boost::asio::const_buffer b(*it);
    if (b.size() > 0) {
      op.write_from = b;
      break;
    }
  }
  return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
      std::move(op), token, socket_);
}

template <typename Token>
auto TlsStream::async_shutdown(Token&& token) {
  return boost::asio::async_compose<Token, void(boost::system::error_code)>(
      TlsOperation<op_kind::Shutdown>{this}, token, socket_);
}

}  // namespace faregate::tls
