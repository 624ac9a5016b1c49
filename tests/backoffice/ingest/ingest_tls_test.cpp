// IngestServer over mutual TLS on real loopback TCP, with a real SQLite store and certificates
// from a throw-away operator CA. Hostile peers (bad certificates, garbage, wrong identities, slow
// and flooding clients) each get their connection closed, logged and counted, while honest
// validators beside them keep syncing and lose nothing. Every wait is bounded; nothing sleeps.

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <memory>
#include <vector>

#include "backoffice/ingest/ingest_server.h"
#include "backoffice/store/sqlite_tap_store.h"
#include "common/tls/server_credentials.h"
#include "tests/backoffice/backoffice_test_support.h"
#include "tests/backoffice/sync_test_client.h"
#include "tests/common/tls/test_pki.h"

using faregate::ingest::IngestOptions;
using faregate::ingest::IngestServer;
using faregate::ingest::Violation;
using faregate::store::SqliteTapStore;
using faregate::testing::make_tap;
using faregate::testing::make_taps;
using faregate::testing::ScratchDir;
using faregate::testing::SyncTestClient;
using faregate::testing::TestPki;
using faregate::tls::ClientContext;
using faregate::tls::HandshakeFailure;
using Event = SyncTestClient::Event;
namespace v1 = faregate::v1;
using namespace std::chrono_literals;

namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
  const auto temporary = path.string() + ".new";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(temporary, path);
}

struct TlsHarness {
  explicit TlsHarness(IngestOptions options = {}) {
    const auto tls_dir = dir.path() / "tls";
    std::filesystem::create_directories(tls_dir);
    files = faregate::tls::server_files_in(tls_dir);
    write_file(files.certificate, pki.server().certificate_pem);
    write_file(files.private_key, pki.server().private_key_pem);
    write_file(files.client_ca, pki.ca_pem());
    write_file(files.revocation_list, pki.revocation_list({}));
    auto credentials = faregate::tls::ServerCredentials::load(files, 0ms);
    if (!credentials) FAIL("credentials: " << credentials.error().describe());
    options.tls = *credentials;
    auto opened = SqliteTapStore::open(dir.path() / "taps.db");
    if (!opened) FAIL("store: " << opened.error().describe());
    store = std::move(*opened);
    server = std::make_unique<IngestServer>(*store, std::move(options));
    auto bound = server->start();
    if (!bound) FAIL("start: " << bound.error().describe());
    port = *bound;
  }

  std::shared_ptr<const ClientContext> device(const std::string& id) {
    return pki.client_context(id);
  }

  // An honest validator: TLS session with its own certificate, Hello, `count` taps after `from`.
  void honest_sync(const std::string& id, std::uint64_t from, std::uint64_t count) {
    SyncTestClient client;
    REQUIRE(client.connect_tls(port, device(id)));
    auto hello = client.say_hello(id);
    REQUIRE(hello);
    CHECK(hello->stored_through_seq() == from - 1);
    auto ack = client.send_batch(make_taps(id, from, from + count - 1));
    REQUIRE(ack);
    CHECK(ack->stored_through_seq() == from + count - 1);
  }

  ScratchDir dir;
  TestPki pki;
  faregate::tls::ServerFiles files;
  std::unique_ptr<SqliteTapStore> store;
  std::unique_ptr<IngestServer> server;
  std::uint16_t port = 0;
};

std::string varint(std::uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

// Waits (bounded) until the server has counted what the test expects; the server thread counts
// just after it closes a connection, which the client may see first.
template <typename Predicate>
bool eventually(Predicate predicate) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("over TLS a validator with a device certificate syncs and the store keys it by the certificate") {
  TlsHarness h;
  h.honest_sync("central-entry-1", 1, 25);
  CHECK(h.store->stored_through("central-entry-1").value() == 25);
  const auto c = h.server->counters();
  CHECK(c.tls_handshakes == 1);
  CHECK(c.taps_inserted == 25);
}

TEST_CASE("a Hello claiming another device than the certificate is refused with identity_mismatch") {
  TlsHarness h;
  SyncTestClient thief;
  REQUIRE(thief.connect_tls(h.port, h.device("gate-b")));
  REQUIRE(thief.send(SyncTestClient::hello("gate-a")));
  auto error = thief.expect_error_and_close();
  REQUIRE(error);
  CHECK(error->code() == "identity_mismatch");
  h.honest_sync("gate-a", 1, 10);
  CHECK(eventually([&] { return h.server->counters().violation(Violation::kIdentityMismatch) == 1; }));
  CHECK(h.store->stored_through("gate-a").value() == 10);
  CHECK(h.store->stored_through("gate-b").value() == 0);
}

TEST_CASE("a TapBatch carrying device A's taps over device B's certificate stores nothing") {
  TlsHarness h;
  h.honest_sync("gate-a", 1, 5);
  SyncTestClient b;
  REQUIRE(b.connect_tls(h.port, h.device("gate-b")));
  REQUIRE(b.say_hello("gate-b"));
  // Forged taps that would overwrite nothing but pollute gate-a's history: all refused.
  std::vector<v1::TapRecord> forged = make_taps("gate-b", 1, 3);
  forged.push_back(make_tap("gate-a", 6, 99));
  REQUIRE(b.send(SyncTestClient::batch(forged)));
  auto error = b.expect_error_and_close();
  REQUIRE(error);
  CHECK(error->code() == "device_mismatch");
  CHECK(h.store->stored_through("gate-a").value() == 5);
  CHECK(h.store->stored_through("gate-b").value() == 0);
  CHECK(h.store->tap_count().value() == 5);
  CHECK(eventually([&] { return h.server->counters().violation(Violation::kDeviceMismatch) == 1; }));
  h.honest_sync("gate-a", 6, 5);
}

TEST_CASE("hostile frames inside a valid TLS session are refused with their reason") {
  TlsHarness h;
  struct Case {
    std::string name;
    std::string bytes;
    std::string code;
    bool after_hello;
  };
  const std::vector<Case> cases = {
      {"an oversized length prefix", varint(1ULL << 40), "frame_too_large", true},
      {"a length prefix that is no varint", std::string(11, '\xff'), "bad_length_prefix", false},
      {"garbage that is no ClientFrame", varint(6) + std::string("\xff\xff\xff\xff\xff\xff", 6),
       "bad_message", true},
      {"a batch before the Hello", faregate::framing::encode_frame(SyncTestClient::batch(
                                        make_taps("gate-1", 1, 1))),
       "unexpected_message", false},
      {"a second Hello", faregate::framing::encode_frame(SyncTestClient::hello("gate-1")),
       "unexpected_message", true},
  };
  std::uint64_t honest_seq = 0;
  for (const auto& c : cases) {
    INFO(c.name);
    SyncTestClient hostile;
    REQUIRE(hostile.connect_tls(h.port, h.device("gate-1")));
    if (c.after_hello) REQUIRE(hostile.say_hello("gate-1"));
    REQUIRE(hostile.send_bytes(c.bytes));
    auto error = hostile.expect_error_and_close();
    REQUIRE(error);
    CHECK(error->code() == c.code);
    // An honest validator beside it syncs its next taps.
    h.honest_sync("honest-1", honest_seq + 1, 3);
    honest_seq += 3;
  }
  CHECK(h.store->stored_through("honest-1").value() == honest_seq);
  CHECK(h.store->stored_through("gate-1").value() == 0);
  CHECK(eventually([&] { return h.server->counters().total_violations() == cases.size(); }));
}

TEST_CASE("certificates the back office must not trust are refused during the handshake and counted") {
  TestPki stranger(7);
  TlsHarness h;
  auto doomed = h.pki.issue_device("stolen-gate");
  // Installed as an operator would; the server looks at the file before each handshake here.
  write_file(h.files.revocation_list, h.pki.revocation_list({doomed.serial_hex}));

  SECTION("from another CA") {
    auto pem = stranger.client_pem(stranger.issue_device("gate-9"));
    pem.server_ca = h.pki.ca_pem();
    SyncTestClient client;
    CHECK_FALSE(client.connect_tls(h.port, *ClientContext::create(pem)));
    CHECK(eventually([&] {
      return h.server->counters().tls_failure(HandshakeFailure::kUntrustedCertificate) == 1;
    }));
  }
  SECTION("revoked") {
    SyncTestClient client;
    CHECK_FALSE(client.connect_tls(h.port, *ClientContext::create(h.pki.client_pem(doomed))));
    CHECK(eventually([&] {
      return h.server->counters().tls_failure(HandshakeFailure::kRevokedCertificate) == 1;
    }));
  }
  SECTION("expired") {
    auto old = h.pki.issue_device_with({h.pki.now() - 9 * 86'400, h.pki.now() - 86'400}, "old");
    SyncTestClient client;
    CHECK_FALSE(client.connect_tls(h.port, *ClientContext::create(h.pki.client_pem(old))));
    CHECK(eventually([&] {
      return h.server->counters().tls_failure(HandshakeFailure::kExpiredCertificate) == 1;
    }));
  }
  SECTION("plain-text sync protocol on the TLS port") {
    SyncTestClient client;
    REQUIRE(client.connect(h.port));
    REQUIRE(client.send(SyncTestClient::hello("gate-1")));
    CHECK(client.receive().event == Event::kClosed);
    CHECK(eventually([&] {
      return h.server->counters().tls_failure(HandshakeFailure::kProtocol) == 1;
    }));
  }
  h.honest_sync("honest-1", 1, 4);
  CHECK(h.server->counters().tls_handshakes == 1);
}

TEST_CASE("a device revoked while the server runs cannot open its next session") {
  TlsHarness h;
  auto device = h.pki.issue_device("gate-5");
  auto context = *ClientContext::create(h.pki.client_pem(device));
  {
    SyncTestClient before;
    REQUIRE(before.connect_tls(h.port, context));
    REQUIRE(before.say_hello("gate-5"));
  }
  write_file(h.files.revocation_list, h.pki.revocation_list({device.serial_hex}));
  SyncTestClient after;
  CHECK_FALSE(after.connect_tls(h.port, context));
  CHECK(eventually([&] {
    return h.server->counters().tls_failure(HandshakeFailure::kRevokedCertificate) == 1;
  }));
}

TEST_CASE("slow clients are closed on time: a stalled TLS handshake and a trickled Hello") {
  IngestOptions options;
  options.tls_handshake_timeout = 300ms;
  options.idle_timeout = 600ms;
  TlsHarness h(options);
  // Connects and says nothing: no ClientHello at all.
  SyncTestClient silent;
  REQUIRE(silent.connect(h.port));
  // Completes TLS, then trickles its Hello one byte at a time, never finishing within the limit.
  SyncTestClient trickler;
  REQUIRE(trickler.connect_tls(h.port, h.device("gate-slow")));
  const std::string hello = faregate::framing::encode_frame(SyncTestClient::hello("gate-slow"));
  // An honest validator keeps syncing meanwhile.
  h.honest_sync("honest-1", 1, 5);

  // One byte every 100 ms: the Hello (a couple of dozen bytes) would take over two seconds to
  // finish, far past the 600 ms limit, whatever the pace of the receive loop below.
  bool silent_closed = false;
  bool trickler_closed = false;
  std::size_t sent = 0;
  const auto started = std::chrono::steady_clock::now();
  auto next_byte_at = started;
  while ((!silent_closed || !trickler_closed) && std::chrono::steady_clock::now() - started < 10s) {
    if (!silent_closed) silent_closed = silent.receive(20ms).event == Event::kClosed;
    if (!trickler_closed) {
      trickler_closed = trickler.receive(20ms).event == Event::kClosed;
      const auto now = std::chrono::steady_clock::now();
      if (!trickler_closed && sent + 1 < hello.size() && now >= next_byte_at) {
        (void)trickler.send_bytes(hello.substr(sent++, 1));
        next_byte_at = now + 100ms;
      }
    }
  }
  CHECK(silent_closed);
  CHECK(trickler_closed);
  CHECK(sent + 1 < hello.size());  // closed before its Hello was complete
  h.honest_sync("honest-1", 6, 5);
  CHECK(eventually([&] {
    const auto c = h.server->counters();
    return c.tls_handshake_timeouts == 1 && c.handshake_timeouts == 1;
  }));
  CHECK(h.store->stored_through("honest-1").value() == 10);
}

TEST_CASE("a flood of connections is capped and honest validators get in once the flood times out") {
  IngestOptions options;
  options.max_connections = 8;
  options.tls_handshake_timeout = 300ms;
  TlsHarness h(options);
  std::vector<std::unique_ptr<SyncTestClient>> flood;
  for (int i = 0; i < 24; ++i) {
    auto client = std::make_unique<SyncTestClient>();
    if (client->connect(h.port)) flood.push_back(std::move(client));
  }
  CHECK(eventually([&] { return h.server->counters().connections_refused >= 16; }));
  // The honest validator retries (as the sync agent's backoff does) until a slot is free; its
  // taps wait in its journal meanwhile, so nothing is lost.
  bool synced = false;
  int attempts = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!synced && std::chrono::steady_clock::now() < deadline) {
    ++attempts;
    SyncTestClient honest;
    if (!honest.connect_tls(h.port, h.device("honest-1"), 1s)) continue;
    if (!honest.say_hello("honest-1")) continue;
    auto ack = honest.send_batch(make_taps("honest-1", 1, 20));
    synced = ack && ack->stored_through_seq() == 20;
  }
  CHECK(synced);
  CHECK(h.store->stored_through("honest-1").value() == 20);
  const auto c = h.server->counters();
  CHECK(c.tls_handshake_timeouts >= 8);
  CHECK(c.connections_open <= 8);
  INFO("attempts " << attempts);
}
