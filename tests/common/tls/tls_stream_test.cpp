// tls::TlsStream over real loopback TCP: both ends in one io_context on the test thread, every
// wait bounded by a timeout.

#include <catch2/catch.hpp>

#include <boost/asio.hpp>
#include <memory>
#include <string>

#include "common/tls/tls_stream.h"
#include "tests/common/tls/test_pki.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using faregate::tls::Engine;
using faregate::tls::HandshakeFailure;
using faregate::tls::TlsStream;
using faregate::testing::TestPki;
using namespace std::chrono_literals;

namespace {

// Runs handlers until `done()` or the timeout.
template <typename Predicate>
bool run_until(asio::io_context& io, Predicate done, std::chrono::milliseconds timeout) {
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) io.run_one_until(deadline);
  return done();
}

struct Loopback {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  tcp::socket server_socket{io};
  tcp::socket client_socket{io};

  Loopback() {
    bool accepted = false;
    acceptor.async_accept(server_socket, [&](const boost::system::error_code& ec) {
      REQUIRE_FALSE(ec);
      accepted = true;
    });
    client_socket.connect(acceptor.local_endpoint());
    io.run_for(5s);
    io.restart();
    REQUIRE(accepted);
  }
};

// Echoes everything it reads until end of stream, then counts the bytes.
struct Echo : std::enable_shared_from_this<Echo> {
  explicit Echo(TlsStream& s) : stream(s) {}
  TlsStream& stream;
  std::array<char, 8192> buffer{};
  std::size_t echoed = 0;
  bool saw_eof = false;

  void read() {
    stream.async_read_some(asio::buffer(buffer), [self = shared_from_this()](
                                                     const boost::system::error_code& ec,
                                                     std::size_t n) {
      if (ec) {
        self->saw_eof = ec == asio::error::eof;
        return;
      }
      asio::async_write(self->stream, asio::buffer(self->buffer.data(), n),
                        [self, n](const boost::system::error_code& wec, std::size_t) {
                          if (wec) return;
                          self->echoed += n;
                          self->read();
                        });
    });
  }
};

}  // namespace

TEST_CASE("a TLS stream carries a megabyte both ways over loopback and ends with end of stream") {
  TestPki pki;
  Loopback net;
  TlsStream server(std::move(net.server_socket), *Engine::server(pki.server_context()));
  TlsStream client(std::move(net.client_socket), *Engine::client(pki.client_context("gate-9")));

  boost::system::error_code server_hs = asio::error::would_block;
  boost::system::error_code client_hs = asio::error::would_block;
  server.async_handshake([&](const boost::system::error_code& ec) { server_hs = ec; });
  client.async_handshake([&](const boost::system::error_code& ec) { client_hs = ec; });
  run_until(net.io, [&] { return server_hs != asio::error::would_block &&
                                 client_hs != asio::error::would_block; }, 10s);
  REQUIRE_FALSE(server_hs);
  REQUIRE_FALSE(client_hs);
  REQUIRE(server.peer());
  CHECK(server.peer()->common_name == "gate-9");

  auto echo = std::make_shared<Echo>(server);
  echo->read();
  std::string sent(1 << 20, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 131 % 251);
  std::string received;
  std::array<char, 16384> chunk{};
  bool wrote = false;
  std::function<void()> read_back = [&] {
    client.async_read_some(asio::buffer(chunk), [&](const boost::system::error_code& ec,
                                                    std::size_t n) {
      if (ec) return;
      received.append(chunk.data(), n);
      if (received.size() < sent.size()) read_back();
    });
  };
  asio::async_write(client, asio::buffer(sent), [&](const boost::system::error_code& ec, std::size_t) {
    REQUIRE_FALSE(ec);
    wrote = true;
  });
  read_back();
  run_until(net.io, [&] { return wrote && received.size() >= sent.size(); }, 20s);
  CHECK(wrote);
  CHECK(received.size() == sent.size());
  CHECK(received == sent);

  bool shut = false;
  client.async_shutdown([&](const boost::system::error_code& ec) { shut = !ec; });
  run_until(net.io, [&] { return shut && echo->saw_eof; }, 5s);
  CHECK(shut);
  CHECK(echo->saw_eof);
  CHECK(echo->echoed == sent.size());
}

TEST_CASE("closing the socket ends a handshake that waits for a silent peer") {
  TestPki pki;
  Loopback net;
  TlsStream server(std::move(net.server_socket), *Engine::server(pki.server_context()));
  boost::system::error_code result;
  bool done = false;
  server.async_handshake([&](const boost::system::error_code& ec) {
    result = ec;
    done = true;
  });
  net.io.run_for(50ms);  // the client says nothing
  net.io.restart();
  CHECK_FALSE(done);
  boost::system::error_code ignored;
  server.lowest_layer().close(ignored);
  run_until(net.io, [&] { return done; }, 5s);
  REQUIRE(done);
  CHECK(result == asio::error::operation_aborted);
}

TEST_CASE("a TLS client talking to a plain-text server fails its handshake as a protocol error") {
  TestPki pki;
  Loopback net;
  TlsStream client(std::move(net.client_socket), *Engine::client(pki.client_context("gate-1")));
  // The "server" answers the ClientHello with a sync-protocol error frame in clear.
  std::array<char, 4096> sink{};
  net.server_socket.async_read_some(asio::buffer(sink), [&](const boost::system::error_code&,
                                                            std::size_t) {
    asio::write(net.server_socket, asio::buffer(std::string("\x0c\x1a\x0a\x0bserver_busy", 15)));
  });
  boost::system::error_code result;
  bool done = false;
  client.async_handshake([&](const boost::system::error_code& ec) {
    result = ec;
    done = true;
  });
  run_until(net.io, [&] { return done; }, 5s);
  REQUIRE(done);
  REQUIRE(result);
  CHECK(client.handshake_failure(result) == HandshakeFailure::kProtocol);
}
