// IngestServer over real loopback TCP with a real SQLite store. Every wait is a socket wait with
// a timeout; nothing sleeps.

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "backoffice/ingest/ingest_server.h"
#include "backoffice/store/sqlite_tap_store.h"
#include "tests/backoffice/backoffice_test_support.h"
#include "tests/backoffice/sync_test_client.h"

using faregate::ingest::IngestOptions;
using faregate::ingest::IngestServer;
using faregate::ingest::Violation;
using faregate::store::SqliteTapStore;
using faregate::testing::make_tap;
using faregate::testing::make_taps;
using faregate::testing::ScratchDir;
using faregate::testing::SyncTestClient;
using Event = SyncTestClient::Event;
namespace v1 = faregate::v1;
using namespace std::chrono_literals;

namespace {

struct Harness {
  explicit Harness(IngestOptions options = {}) {
    auto opened = SqliteTapStore::open(dir.path() / "taps.db");
    if (!opened) FAIL("store: " << opened.error().describe());
    store = std::move(*opened);
    server = std::make_unique<IngestServer>(*store, std::move(options));
    auto bound = server->start();
    if (!bound) FAIL("start: " << bound.error().describe());
    port = *bound;
  }

  ScratchDir dir;
  std::unique_ptr<SqliteTapStore> store;
  std::unique_ptr<IngestServer> server;
  std::uint16_t port = 0;
};

// Connects a client, failing the test if it cannot.
void connect(SyncTestClient& client, std::uint16_t port) { REQUIRE(client.connect(port)); }

std::string varint(std::uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

// A TapStore over the real one that can fail a batch or hold it until released (fault
// injection: a full disk, a disk that stalls).
class FaultyTapStore final : public faregate::store::TapStore {
 public:
  explicit FaultyTapStore(faregate::store::TapStore& real) : real_(real) {}

  std::atomic<bool> fail_next_batch{false};

  void hold_batches() {
    std::lock_guard lock(mutex_);
    holding_ = true;
  }
  void release_batches() {
    std::lock_guard lock(mutex_);
    holding_ = false;
    changed_.notify_all();
  }
  // True once a batch is waiting in store_batch (bounded wait).
  bool wait_until_held() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 5s, [&] { return held_ > 0; });
  }

  faregate::Result<faregate::store::BatchOutcome> store_batch(
      std::string_view device_id, std::span<const v1::TapRecord> taps) override {
    {
      std::unique_lock lock(mutex_);
      if (holding_) {
        ++held_;
        changed_.notify_all();
        changed_.wait_for(lock, 10s, [&] { return !holding_; });
        --held_;
      }
    }
    if (fail_next_batch.exchange(false)) {
      return faregate::make_error(faregate::ErrorCode::kIo, "injected: disk full");
    }
    return real_.store_batch(device_id, taps);
  }
  faregate::Result<std::uint64_t> stored_through(std::string_view device_id) override {
    return real_.stored_through(device_id);
  }
  faregate::Result<std::uint64_t> tap_count() override { return real_.tap_count(); }
  faregate::Result<std::vector<faregate::store::DeviceSummary>> device_summaries() override {
    return real_.device_summaries();
  }
  faregate::Result<std::vector<faregate::store::Conflict>> conflicts() override {
    return real_.conflicts();
  }
  faregate::Result<std::vector<v1::TapRecord>> taps_of_device(std::string_view device_id,
                                                              std::uint64_t from_seq,
                                                              std::size_t limit) override {
    return real_.taps_of_device(device_id, from_seq, limit);
  }

 private:
  faregate::store::TapStore& real_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool holding_ = false;
  int held_ = 0;
};

}  // namespace

TEST_CASE("hello is answered with the device's watermark and server time and batch limit") {
  IngestOptions options;
  options.max_batch_taps = 700;
  options.utc_now_ms = [] { return std::int64_t{1'800'000'000'123}; };
  Harness h(options);
  REQUIRE(h.store->store_batch("gate-1", make_taps("gate-1", 1, 42)));

  SyncTestClient client;
  connect(client, h.port);
  auto ack = client.say_hello("gate-1", 50);
  REQUIRE(ack);
  CHECK(ack->stored_through_seq() == 42);
  CHECK(ack->server_time_utc_ms() == 1'800'000'000'123);
  CHECK(ack->max_batch_taps() == 700);

  SyncTestClient newcomer;
  connect(newcomer, h.port);
  auto fresh = newcomer.say_hello("gate-new");
  REQUIRE(fresh);
  CHECK(fresh->stored_through_seq() == 0);
  CHECK(h.server->counters().hellos == 2);
}

TEST_CASE("a tap batch is stored and acknowledged with the new watermark") {
  Harness h;
  SyncTestClient client;
  connect(client, h.port);
  REQUIRE(client.say_hello("gate-1"));
  auto ack = client.send_batch(make_taps("gate-1", 1, 20));
  REQUIRE(ack);
  CHECK(ack->stored_through_seq() == 20);
  CHECK(ack->inserted() == 20);
  CHECK(ack->duplicates() == 0);
  CHECK(ack->conflicts() == 0);
  auto next = client.send_batch(make_taps("gate-1", 21, 30));
  REQUIRE(next);
  CHECK(next->stored_through_seq() == 30);
  CHECK(h.store->tap_count().value() == 30);
  const auto c = h.server->counters();
  CHECK(c.batches == 2);
  CHECK(c.taps_inserted == 30);
  CHECK(c.total_violations() == 0);
}

TEST_CASE("the same batch sent twice is acknowledged as duplicates and stored once") {
  Harness h;
  SyncTestClient client;
  connect(client, h.port);
  REQUIRE(client.say_hello("gate-1"));
  const auto taps = make_taps("gate-1", 1, 15);
  REQUIRE(client.send_batch(taps));
  // As after a lost ack: a new session resends the same batch.
  SyncTestClient retry;
  connect(retry, h.port);
  auto hello = retry.say_hello("gate-1");
  REQUIRE(hello);
  CHECK(hello->stored_through_seq() == 15);
  auto again = retry.send_batch(taps);
  REQUIRE(again);
  CHECK(again->inserted() == 0);
  CHECK(again->duplicates() == 15);
  CHECK(again->stored_through_seq() == 15);
  CHECK(h.store->tap_count().value() == 15);
  CHECK(h.server->counters().taps_duplicate == 15);
}

TEST_CASE("a tap contradicting a held one is reported as a conflict and the original kept") {
  Harness h;
  SyncTestClient client;
  connect(client, h.port);
  REQUIRE(client.say_hello("gate-1"));
  REQUIRE(client.send_batch(make_taps("gate-1", 1, 3)));
  auto ack = client.send_batch({make_tap("gate-1", 2, /*card=*/99), make_tap("gate-1", 4)});
  REQUIRE(ack);
  CHECK(ack->conflicts() == 1);
  CHECK(ack->inserted() == 1);
  CHECK(ack->stored_through_seq() == 4);
  auto held = h.store->taps_of_device("gate-1", 2, 1);
  REQUIRE(held);
  REQUIRE(held->size() == 1);
  CHECK(held->front().card_token() == make_tap("gate-1", 2).card_token());
  CHECK(h.store->conflicts().value().size() == 1);
  CHECK(h.server->counters().taps_conflicting == 1);
}

TEST_CASE("health reports are counted and get no reply") {
  Harness h;
  SyncTestClient client;
  connect(client, h.port);
  REQUIRE(client.say_hello("gate-1"));
  v1::ClientFrame health;
  health.mutable_health()->set_journal_depth(3);
  health.mutable_health()->set_reader_status("ok");
  REQUIRE(client.send(health));
  // The next frame from the server answers the batch, not the health report.
  auto ack = client.send_batch(make_taps("gate-1", 1, 1));
  REQUIRE(ack);
  CHECK(ack->stored_through_seq() == 1);
  CHECK(h.server->counters().health_reports == 1);
}

TEST_CASE("an oversized length prefix gets frame_too_large and a close while an honest "
          "client still syncs") {
  IngestOptions options;
  options.max_frame_bytes = 64 * 1024;
  Harness h(options);
  SyncTestClient attacker;
  connect(attacker, h.port);
  REQUIRE(attacker.send_bytes(varint(1ULL << 40)));
  auto error = attacker.expect_error_and_close();
  REQUIRE(error);
  CHECK(error->code() == "frame_too_large");

  SyncTestClient honest;
  connect(honest, h.port);
  REQUIRE(honest.say_hello("gate-1"));
  auto ack = honest.send_batch(make_taps("gate-1", 1, 5));
  REQUIRE(ack);
  CHECK(ack->stored_through_seq() == 5);
  const auto c = h.server->counters();
  CHECK(c.violation(Violation::kFrameTooLarge) == 1);
  CHECK(c.total_violations() == 1);
}

TEST_CASE("garbage bytes close the connection with the reason") {
  Harness h;
  SECTION("a body that is not a ClientFrame") {
    SyncTestClient client;
    connect(client, h.port);
    REQUIRE(client.send_bytes(std::string("\x05\xff\xff\xff\xff\xff", 6)));
    auto error = client.expect_error_and_close();
    REQUIRE(error);
    CHECK(error->code() == "bad_message");
    CHECK(h.server->counters().violation(Violation::kBadMessage) == 1);
  }
  SECTION("a length prefix that is not a varint") {
    SyncTestClient client;
    connect(client, h.port);
    REQUIRE(client.send_bytes(std::string(11, '\xff')));
    auto error = client.expect_error_and_close();
    REQUIRE(error);
    CHECK(error->code() == "bad_length_prefix");
    CHECK(h.server->counters().violation(Violation::kBadLengthPrefix) == 1);
  }
  SECTION("a ServerFrame sent by a client") {
    SyncTestClient client;
    connect(client, h.port);
    v1::ServerFrame wrong;
    wrong.mutable_hello_ack()->set_stored_through_seq(7);
    wrong.mutable_hello_ack()->set_max_batch_taps(9);
    REQUIRE(client.send_bytes(faregate::framing::encode_frame(wrong)));
    auto error = client.expect_error_and_close();
    REQUIRE(error);
    // Read as a ClientFrame, a HelloAck is a Hello without a device id or protocol version.
    CHECK(error->code() == "unsupported_version");
    CHECK(h.server->counters().total_violations() == 1);
  }
  CHECK(h.store->tap_count().value() == 0);
}

TEST_CASE("an empty frame is refused with empty_message") {
  Harness h;
  SyncTestClient client;
  connect(client, h.port);
  REQUIRE(client.send_bytes(std::string(1, '\0')));
  auto error = client.expect_error_and_close();
  REQUIRE(error);
  CHECK(error->code() == "empty_message");
  CHECK(h.server->counters().violation(Violation::kEmptyMessage) == 1);
}

TEST_CASE("a stream ending inside a frame is refused with truncated_frame") {
  Harness h;
  SyncTestClient client;
  connect(client, h.port);
  const std::string hello = faregate::framing::encode_frame(SyncTestClient::hello("gate-1"));
  REQUIRE(client.send_bytes(hello.substr(0, hello.size() / 2)));
  client.shutdown_send();
  auto error = client.expect_error_and_close();
  REQUIRE(error);
  CHECK(error->code() == "truncated_frame");
  CHECK(h.server->counters().violation(Violation::kTruncatedFrame) == 1);
}

TEST_CASE("a batch before hello is refused with unexpected_message") {
  Harness h;
  SyncTestClient client;
  connect(client, h.port);
  REQUIRE(client.send(SyncTestClient::batch(make_taps("gate-1", 1, 3))));
  auto error = client.expect_error_and_close();
  REQUIRE(error);
  CHECK(error->code() == "unexpected_message");
  CHECK(h.server->counters().violation(Violation::kUnexpectedMessage) == 1);
  CHECK(h.store->tap_count().value() == 0);
}

TEST_CASE("a second hello is refused with unexpected_message") {
  Harness h;
  SyncTestClient client;
  connect(client, h.port);
  REQUIRE(client.say_hello("gate-1"));
  REQUIRE(client.send(SyncTestClient::hello("gate-2")));
  auto error = client.expect_error_and_close();
  REQUIRE(error);
  CHECK(error->code() == "unexpected_message");
}

TEST_CASE("a hello with another protocol version or no device id is refused") {
  Harness h;
  SyncTestClient old_version;
  connect(old_version, h.port);
  REQUIRE(old_version.send(SyncTestClient::hello("gate-1", 0, 2)));
  auto version = old_version.expect_error_and_close();
  REQUIRE(version);
  CHECK(version->code() == "unsupported_version");

  SyncTestClient anonymous;
  connect(anonymous, h.port);
  REQUIRE(anonymous.send(SyncTestClient::hello("")));
  auto nameless = anonymous.expect_error_and_close();
  REQUIRE(nameless);
  CHECK(nameless->code() == "bad_hello");
  const auto c = h.server->counters();
  CHECK(c.violation(Violation::kUnsupportedVersion) == 1);
  CHECK(c.violation(Violation::kBadHello) == 1);
  CHECK(c.hellos == 0);
}

TEST_CASE("a tap with another device id closes the session with device_mismatch and nothing "
          "stored") {
  Harness h;
  SyncTestClient client;
  connect(client, h.port);
  REQUIRE(client.say_hello("gate-1"));
  auto taps = make_taps("gate-1", 1, 3);
  taps.push_back(make_tap("gate-2", 4));
  REQUIRE(client.send(SyncTestClient::batch(taps)));
  auto error = client.expect_error_and_close();
  REQUIRE(error);
  CHECK(error->code() == "device_mismatch");
  CHECK(h.server->counters().violation(Violation::kDeviceMismatch) == 1);
  CHECK(h.store->tap_count().value() == 0);
}

TEST_CASE("a batch over max_batch_taps is refused with batch_too_large") {
  IngestOptions options;
  options.max_batch_taps = 10;
  Harness h(options);
  SyncTestClient client;
  connect(client, h.port);
  auto hello = client.say_hello("gate-1");
  REQUIRE(hello);
  CHECK(hello->max_batch_taps() == 10);
  REQUIRE(client.send_batch(make_taps("gate-1", 1, 10)));
  REQUIRE(client.send(SyncTestClient::batch(make_taps("gate-1", 11, 21))));
  auto error = client.expect_error_and_close();
  REQUIRE(error);
  CHECK(error->code() == "batch_too_large");
  CHECK(h.store->tap_count().value() == 10);
}

TEST_CASE("a tap with seq 0 is refused with bad_tap") {
  Harness h;
  SyncTestClient client;
  connect(client, h.port);
  REQUIRE(client.say_hello("gate-1"));
  REQUIRE(client.send(SyncTestClient::batch({make_tap("gate-1", 0)})));
  auto error = client.expect_error_and_close();
  REQUIRE(error);
  CHECK(error->code() == "bad_tap");
}

TEST_CASE("silent and trickling and idle clients are closed on time while an honest client syncs") {
  IngestOptions options;
  options.idle_timeout = 300ms;
  Harness h(options);
  const auto started = std::chrono::steady_clock::now();
  SyncTestClient silent;  // connects and never says a word
  connect(silent, h.port);
  SyncTestClient trickler;  // sends its Hello one byte at a time (slow loris)
  connect(trickler, h.port);
  const std::string trickled =
      faregate::framing::encode_frame(SyncTestClient::hello(std::string(120, 't')));
  std::size_t trickled_bytes = 0;
  SyncTestClient idle;  // says Hello, then nothing
  connect(idle, h.port);
  REQUIRE(idle.say_hello("gate-idle"));

  SyncTestClient honest;
  connect(honest, h.port);
  REQUIRE(honest.say_hello("gate-1"));
  std::uint64_t seq = 0;
  bool silent_closed = false;
  bool trickler_closed = false;
  bool idle_closed = false;
  // The honest client syncs one tap at a time until the three others are gone; each round waits
  // a few milliseconds on each of their sockets and feeds the trickler one more byte.
  while (!(silent_closed && trickler_closed && idle_closed) &&
         std::chrono::steady_clock::now() - started < 10s) {
    ++seq;
    auto ack = honest.send_batch({make_tap("gate-1", seq)});
    REQUIRE(ack);
    REQUIRE(ack->stored_through_seq() == seq);
    if (!silent_closed) silent_closed = silent.receive(5ms).event == Event::kClosed;
    if (!idle_closed) idle_closed = idle.receive(5ms).event == Event::kClosed;
    if (!trickler_closed) {
      trickler_closed = trickler.receive(5ms).event == Event::kClosed;
      if (!trickler_closed && trickled_bytes < trickled.size()) {
        (void)trickler.send_bytes(trickled.substr(trickled_bytes++, 1));
      }
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(silent_closed);
  CHECK(trickler_closed);
  CHECK(idle_closed);
  CHECK(trickled_bytes < trickled.size());  // closed before its Hello was complete
  CHECK(elapsed >= 300ms);
  // The honest client is still being served.
  auto last = honest.send_batch({make_tap("gate-1", seq + 1)});
  REQUIRE(last);
  CHECK(last->stored_through_seq() == seq + 1);
  const auto c = h.server->counters();
  CHECK(c.handshake_timeouts == 2);
  CHECK(c.idle_timeouts == 1);
  CHECK(c.hellos == 2);
  CHECK(c.total_violations() == 0);
}

TEST_CASE("connections over max_connections are refused at once and freed slots are reused") {
  IngestOptions options;
  options.max_connections = 2;
  Harness h(options);
  SyncTestClient a;
  SyncTestClient b;
  connect(a, h.port);
  connect(b, h.port);
  REQUIRE(a.say_hello("gate-a"));
  REQUIRE(b.say_hello("gate-b"));

  SyncTestClient c;
  connect(c, h.port);  // the kernel accepts; the server closes it
  auto first = c.receive();
  if (first.event == Event::kFrame) {
    REQUIRE(first.frame.has_error());
    CHECK(first.frame.error().code() == "server_busy");
    first = c.receive();
  }
  CHECK(first.event == Event::kClosed);
  CHECK(h.server->counters().connections_refused == 1);
  CHECK(h.server->counters().connections_open == 2);

  // The two sessions are unaffected.
  REQUIRE(a.send_batch(make_taps("gate-a", 1, 2)));

  // Once a leaves, a new client gets in (retrying until the server has seen a's close).
  a.close();
  bool admitted = false;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!admitted && std::chrono::steady_clock::now() < deadline) {
    SyncTestClient d;
    if (!d.connect(h.port)) continue;
    admitted = d.say_hello("gate-d").has_value();
  }
  CHECK(admitted);
}

TEST_CASE("stop closes open sessions and keeps what was stored") {
  Harness h;
  SyncTestClient client;
  connect(client, h.port);
  REQUIRE(client.say_hello("gate-1"));
  REQUIRE(client.send_batch(make_taps("gate-1", 1, 8)));
  h.server->stop();
  CHECK(client.receive().event == Event::kClosed);
  h.server->stop();  // idempotent
  SyncTestClient late;
  CHECK_FALSE((late.connect(h.port) && late.say_hello("gate-1")));
  CHECK(h.store->stored_through("gate-1").value() == 8);
}

TEST_CASE("start refuses a bad listen address and a port in use") {
  ScratchDir dir;
  auto store = SqliteTapStore::open(dir.path() / "taps.db");
  REQUIRE(store);
  IngestOptions bad;
  bad.listen_address = "not-an-address";
  IngestServer nowhere(**store, bad);
  auto refused = nowhere.start();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == faregate::ErrorCode::kInvalidArgument);

  IngestServer first(**store);
  auto port = first.start();
  REQUIRE(port);
  IngestOptions same;
  same.port = *port;
  IngestServer second(**store, same);
  auto taken = second.start();
  REQUIRE_FALSE(taken);
  CHECK(taken.error().code == faregate::ErrorCode::kUnavailable);
}

TEST_CASE("a store failure is reported as store_error and the next session is served") {
  ScratchDir dir;
  auto real = SqliteTapStore::open(dir.path() / "taps.db");
  REQUIRE(real);
  FaultyTapStore store(**real);
  IngestServer server(store);
  auto port = server.start();
  REQUIRE(port);

  SyncTestClient client;
  connect(client, *port);
  REQUIRE(client.say_hello("gate-1"));
  store.fail_next_batch = true;
  REQUIRE(client.send(SyncTestClient::batch(make_taps("gate-1", 1, 4))));
  auto error = client.expect_error_and_close();
  REQUIRE(error);
  CHECK(error->code() == "store_error");
  CHECK(server.counters().store_errors == 1);
  CHECK(server.counters().total_violations() == 0);

  SyncTestClient retry;
  connect(retry, *port);
  auto hello = retry.say_hello("gate-1");
  REQUIRE(hello);
  CHECK(hello->stored_through_seq() == 0);
  auto ack = retry.send_batch(make_taps("gate-1", 1, 4));
  REQUIRE(ack);
  CHECK(ack->stored_through_seq() == 4);
}

TEST_CASE("a slow store does not stall other connections") {
  ScratchDir dir;
  auto real = SqliteTapStore::open(dir.path() / "taps.db");
  REQUIRE(real);
  FaultyTapStore store(**real);
  IngestServer server(store);
  auto port = server.start();
  REQUIRE(port);

  SyncTestClient syncing;
  connect(syncing, *port);
  REQUIRE(syncing.say_hello("gate-1"));
  store.hold_batches();
  REQUIRE(syncing.send(SyncTestClient::batch(make_taps("gate-1", 1, 3))));
  REQUIRE(store.wait_until_held());

  // While the store thread is stuck, the network thread still answers everyone else.
  SyncTestClient garbage;
  connect(garbage, *port);
  REQUIRE(garbage.send_bytes(std::string(1, '\0')));
  auto error = garbage.expect_error_and_close(2s);
  REQUIRE(error);
  CHECK(error->code() == "empty_message");
  CHECK(syncing.receive(50ms).event == Event::kTimeout);

  store.release_batches();
  auto ack = syncing.receive();
  REQUIRE(ack.event == Event::kFrame);
  REQUIRE(ack.frame.has_batch_ack());
  CHECK(ack.frame.batch_ack().stored_through_seq() == 3);
}

TEST_CASE("stop lets a batch in the store finish and acknowledges it") {
  ScratchDir dir;
  auto real = SqliteTapStore::open(dir.path() / "taps.db");
  REQUIRE(real);
  FaultyTapStore store(**real);
  IngestServer server(store);
  auto port = server.start();
  REQUIRE(port);
  SyncTestClient client;
  connect(client, *port);
  REQUIRE(client.say_hello("gate-1"));
  store.hold_batches();
  REQUIRE(client.send(SyncTestClient::batch(make_taps("gate-1", 1, 5))));
  REQUIRE(store.wait_until_held());

  std::thread stopper([&] { server.stop(); });
  store.release_batches();
  auto ack = client.receive();
  stopper.join();
  REQUIRE(ack.event == Event::kFrame);
  REQUIRE(ack.frame.has_batch_ack());
  CHECK(ack.frame.batch_ack().stored_through_seq() == 5);
  CHECK(client.receive().event == Event::kClosed);
  CHECK((*real)->stored_through("gate-1").value() == 5);
}
