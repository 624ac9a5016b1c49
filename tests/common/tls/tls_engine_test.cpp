// tls::Engine and the TLS contexts, in memory: two engines, bytes moved between them by hand.
// Every certificate comes from a throw-away CA (tests/common/tls/test_pki.h).

#include <catch2/catch.hpp>

#include <string>
#include <utility>

#include "common/tls/tls_context.h"
#include "common/tls/tls_engine.h"
#include "tests/common/tls/test_pki.h"

using faregate::tls::ClientContext;
using faregate::tls::Engine;
using faregate::tls::HandshakeFailure;
using faregate::tls::ServerContext;
using faregate::testing::TestPki;
using Outcome = Engine::Outcome;

namespace {

struct HandshakeResult {
  Engine::Step client;
  Engine::Step server;
};

// Runs both handshakes, carrying bytes both ways, until both finished or nothing moves.
HandshakeResult run_handshake(Engine& client, Engine& server) {
  HandshakeResult r{{Outcome::kWantRead, 0, 0}, {Outcome::kWantRead, 0, 0}};
  for (int round = 0; round < 32; ++round) {
    bool moved = false;
    if (r.client.outcome == Outcome::kWantRead) r.client = client.handshake();
    if (client.has_output()) {
      server.feed(client.take_output());
      moved = true;
    }
    if (r.server.outcome == Outcome::kWantRead) r.server = server.handshake();
    if (server.has_output()) {
      client.feed(server.take_output());
      moved = true;
    }
    const bool both_done = r.client.outcome != Outcome::kWantRead &&
                           r.server.outcome != Outcome::kWantRead;
    if (both_done || !moved) break;
  }
  return r;
}

std::string pump_plaintext(Engine& from, Engine& to, const std::string& text) {
  const auto sent = from.write({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  REQUIRE(sent.outcome == Outcome::kDone);
  to.feed(from.take_output());
  std::string received;
  std::array<std::uint8_t, 4096> buffer{};
  for (;;) {
    const auto step = to.read(buffer);
    if (step.outcome != Outcome::kDone) break;
    received.append(reinterpret_cast<const char*>(buffer.data()), step.bytes);
  }
  return received;
}

Engine server_engine(std::shared_ptr<const ServerContext> context) {
  auto engine = Engine::server(std::move(context));
  REQUIRE(engine);
  return std::move(*engine);
}

Engine client_engine(std::shared_ptr<const ClientContext> context) {
  auto engine = Engine::client(std::move(context));
  REQUIRE(engine);
  return std::move(*engine);
}

}  // namespace

TEST_CASE("a validator and the back office complete mutual TLS and the server learns the device id from the certificate") {
  TestPki pki;
  auto server = server_engine(pki.server_context());
  auto client = client_engine(pki.client_context("central-entry-7"));
  const auto r = run_handshake(client, server);
  REQUIRE(r.client.outcome == Outcome::kDone);
  REQUIRE(r.server.outcome == Outcome::kDone);
  REQUIRE(server.peer());
  CHECK(server.peer()->common_name == "central-entry-7");
  CHECK(server.peer()->serial_hex.size() == 32);
  REQUIRE(client.peer());
  CHECK(client.peer()->common_name == "faregate-backoffice");
  CHECK(server.verify_flags() == 0);

  CHECK(pump_plaintext(client, server, "hello from the gate") == "hello from the gate");
  const std::string big(100'000, 'x');  // several records
  CHECK(pump_plaintext(server, client, big) == big);
}

TEST_CASE("the back office refuses a device certificate from another CA") {
  TestPki operator_pki(1);
  TestPki stranger(2);
  auto server = server_engine(operator_pki.server_context());
  // The stranger's device trusts our server's CA, so only the server's check can refuse it.
  auto device = stranger.issue_device("central-entry-1");
  auto pem = stranger.client_pem(device);
  pem.server_ca = operator_pki.ca_pem();
  auto context = ClientContext::create(pem);
  REQUIRE(context);
  auto client = client_engine(*context);
  const auto r = run_handshake(client, server);
  REQUIRE(r.server.outcome == Outcome::kFailed);
  CHECK(server.failure_reason(r.server.code) == HandshakeFailure::kUntrustedCertificate);
  CHECK(r.client.outcome != Outcome::kDone);
  CHECK_FALSE(server.peer());
}

TEST_CASE("the back office refuses a revoked device certificate and admits the others") {
  TestPki pki;
  auto revoked = pki.issue_device("stolen-gate");
  auto honest = pki.issue_device("honest-gate");
  auto context = pki.server_context(pki.revocation_list({revoked.serial_hex}));
  REQUIRE(context->revoked_count() == 1);

  auto server = server_engine(context);
  auto client = client_engine(*ClientContext::create(pki.client_pem(revoked)));
  const auto r = run_handshake(client, server);
  REQUIRE(r.server.outcome == Outcome::kFailed);
  CHECK(server.failure_reason(r.server.code) == HandshakeFailure::kRevokedCertificate);

  auto server2 = server_engine(context);
  auto client2 = client_engine(*ClientContext::create(pki.client_pem(honest)));
  const auto ok = run_handshake(client2, server2);
  CHECK(ok.server.outcome == Outcome::kDone);
  CHECK(ok.client.outcome == Outcome::kDone);
}

TEST_CASE("the back office refuses an expired device certificate") {
  TestPki pki;
  auto old = pki.issue_device_with({pki.now() - 20 * 86'400, pki.now() - 86'400}, "old-gate");
  auto server = server_engine(pki.server_context());
  auto client = client_engine(*ClientContext::create(pki.client_pem(old)));
  const auto r = run_handshake(client, server);
  REQUIRE(r.server.outcome == Outcome::kFailed);
  CHECK(server.failure_reason(r.server.code) == HandshakeFailure::kExpiredCertificate);
}

TEST_CASE("a validator refuses a back office whose certificate is not from the pinned CA") {
  TestPki operator_pki(1);
  TestPki impostor(3);
  // The impostor's server even trusts our devices; the device must still refuse it.
  auto pem = impostor.server_pem();
  pem.client_ca = operator_pki.ca_pem();
  auto server = server_engine(*ServerContext::create(pem));
  auto client = client_engine(operator_pki.client_context("central-entry-1"));
  const auto r = run_handshake(client, server);
  REQUIRE(r.client.outcome == Outcome::kFailed);
  CHECK(client.failure_reason(r.client.code) == HandshakeFailure::kUntrustedCertificate);
  CHECK(r.server.outcome != Outcome::kDone);
}

TEST_CASE("a validator refuses a back office certificate issued for another server name") {
  TestPki pki(1, "faregate-backoffice");
  auto device = pki.issue_device("central-entry-1");
  auto pem = pki.client_pem(device);
  pem.server_name = "ingest.example.net";
  auto client = client_engine(*ClientContext::create(pem));
  auto server = server_engine(pki.server_context());
  const auto r = run_handshake(client, server);
  REQUIRE(r.client.outcome == Outcome::kFailed);
  CHECK(client.failure_reason(r.client.code) == HandshakeFailure::kNameMismatch);
}

TEST_CASE("a device certificate cannot stand in for the back office even with the right name") {
  TestPki pki;
  // Same CA, common name equal to the server name: only the extended key usage tells them apart.
  auto device_as_server = pki.issue_device("faregate-backoffice");
  faregate::tls::ServerPem pem{device_as_server.certificate_pem, device_as_server.private_key_pem,
                               pki.ca_pem(), ""};
  auto server = server_engine(*ServerContext::create(pem));
  auto client = client_engine(pki.client_context("central-entry-1"));
  const auto r = run_handshake(client, server);
  // mbedTLS's server already refuses to present a certificate without serverAuth (no suite
  // fits), and the validator would refuse it anyway: no session either way.
  CHECK(r.client.outcome == Outcome::kFailed);
  CHECK(r.server.outcome != Outcome::kDone);
}

TEST_CASE("bytes that are not TLS fail the server handshake as a protocol error") {
  TestPki pki;
  auto server = server_engine(pki.server_context());
  server.feed(std::string_view("\x00\x00\x00\x05hello garbage that is not a ClientHello", 44));
  const auto step = server.handshake();
  REQUIRE(step.outcome == Outcome::kFailed);
  CHECK(server.failure_reason(step.code) == HandshakeFailure::kProtocol);
  CHECK(faregate::tls::to_string(server.failure_reason(step.code)) == "tls_protocol");
}

TEST_CASE("a peer that closes during the handshake is reported as closed") {
  TestPki pki;
  auto server = server_engine(pki.server_context());
  CHECK(server.handshake().outcome == Outcome::kWantRead);
  server.feed_end_of_stream();
  const auto step = server.handshake();
  REQUIRE(step.outcome == Outcome::kClosed);
  CHECK(server.failure_reason(step.code) == HandshakeFailure::kClosed);
}

TEST_CASE("server credentials are checked when the context is built") {
  TestPki pki(1);
  TestPki other(2);
  SECTION("a key that is not the certificate's") {
    auto pem = pki.server_pem();
    pem.private_key = other.server().private_key_pem;
    auto context = ServerContext::create(pem);
    REQUIRE_FALSE(context);
    CHECK(context.error().message.find("does not belong") != std::string::npos);
  }
  SECTION("a device CA that is not a CA") {
    auto pem = pki.server_pem();
    pem.client_ca = pki.server().certificate_pem;
    auto context = ServerContext::create(pem);
    REQUIRE_FALSE(context);
    CHECK(context.error().message.find("not a CA") != std::string::npos);
  }
  SECTION("a revocation list from another CA") {
    auto context = ServerContext::create(pki.server_pem(other.revocation_list({})));
    REQUIRE_FALSE(context);
    CHECK(context.error().message.find("not issued by the device CA") != std::string::npos);
  }
  SECTION("an expired revocation list, which would make mbedTLS refuse every device") {
    auto context = ServerContext::create(pki.server_pem(pki.revocation_list({}, -1)));
    REQUIRE_FALSE(context);
    CHECK(context.error().message.find("expired") != std::string::npos);
  }
  SECTION("garbage instead of a certificate") {
    auto pem = pki.server_pem();
    pem.certificate = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    CHECK_FALSE(ServerContext::create(pem));
  }
}

TEST_CASE("client credentials are checked when the context is built") {
  TestPki pki;
  auto device = pki.issue_device("central-entry-1");
  auto ok = ClientContext::create(pki.client_pem(device));
  REQUIRE(ok);
  CHECK((*ok)->device_id() == "central-entry-1");
  auto pem = pki.client_pem(device);
  pem.private_key = pki.server().private_key_pem;
  CHECK_FALSE(ClientContext::create(pem));
  pem = pki.client_pem(device);
  pem.server_ca = device.certificate_pem;
  CHECK_FALSE(ClientContext::create(pem));
}

TEST_CASE("device ids are restricted to characters safe in names, files and logs") {
  using faregate::tls::is_valid_device_id;
  CHECK(is_valid_device_id("central-entry-1"));
  CHECK(is_valid_device_id("bus_42:front.door"));
  CHECK(is_valid_device_id(std::string(128, 'a')));
  CHECK_FALSE(is_valid_device_id(""));
  CHECK_FALSE(is_valid_device_id(std::string(129, 'a')));
  CHECK_FALSE(is_valid_device_id(".."));
  CHECK_FALSE(is_valid_device_id("-gate"));
  CHECK_FALSE(is_valid_device_id("gate 1"));
  CHECK_FALSE(is_valid_device_id("gate,O=evil"));
  CHECK_FALSE(is_valid_device_id("gate/1"));
  CHECK_FALSE(is_valid_device_id("g\xc3\xa9te"));
}
