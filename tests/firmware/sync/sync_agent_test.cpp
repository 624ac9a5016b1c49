// sync::SyncAgent against a real in-process back office (IngestServer over mutual TLS, SQLite tap
// store, push store) with a real journal file. Waits are socket waits with timeouts; the
// reconnect test drives the agent's waits itself, so nothing sleeps.

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "firmware/journal/journal.h"
#include "firmware/sync/sync_agent.h"
#include "tests/firmware/journal/test_support.h"
#include "tests/firmware/sync/backoffice_harness.h"

using faregate::Bytes;
using faregate::ErrorCode;
using faregate::journal::Journal;
using faregate::sync::Backoff;
using faregate::sync::SyncAgent;
using faregate::sync::SyncOptions;
using faregate::testing::BackofficeHarness;
using faregate::testing::TempDir;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<Journal> open_journal(const TempDir& dir, const std::string& device) {
  auto journal = Journal::open(dir.path() / (device + ".db"), device);
  REQUIRE(journal);
  return std::move(*journal);
}

void journal_taps(Journal& journal, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    REQUIRE(journal.append(faregate::journal::test::make_tap(i + 1)));
  }
}

SyncOptions options_for(BackofficeHarness& bo, const std::string& device,
                        std::size_t batch_taps = 100) {
  SyncOptions options;
  options.port = bo.port();
  options.batch_taps = batch_taps;
  options.tls = bo.device(device);
  options.firmware_version = "test";
  options.reader_status = [] { return std::string("ok"); };
  return options;
}

Bytes token(std::uint8_t n) { return Bytes(32, n); }
bool denied(Journal& journal, std::uint8_t n) { return journal.is_denied(token(n)).value(); }

}  // namespace

TEST_CASE("a validator syncs its journal over mutual TLS and the back office files it under the certificate's device") {
  BackofficeHarness bo;
  TempDir dir;
  auto journal = open_journal(dir, "central-entry-1");
  journal_taps(*journal, 250);
  SyncAgent agent(*journal, options_for(bo, "central-entry-1", 100));
  auto report = agent.sync_once();
  REQUIRE(report);
  CHECK(report->taps_sent == 250);
  CHECK(report->batches == 3);
  CHECK(report->acknowledged_through == 250);
  CHECK(journal->stats()->unsynced == 0);
  CHECK(bo.store().stored_through("central-entry-1").value() == 250);
  CHECK(bo.server().counters().tls_handshakes == 1);
  // One health report before the batches, one at the end (which the server may still be reading
  // when sync_once returns: wait for it, bounded).
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (bo.server().counters().health_reports < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  CHECK(bo.server().counters().health_reports == 2);

  // A second session with nothing new: one empty batch, nothing stored, watermark kept.
  auto again = agent.sync_once();
  REQUIRE(again);
  CHECK(again->taps_sent == 0);
  CHECK(again->batches == 1);
  CHECK(again->server_had_through == 250);
}

TEST_CASE("a validator refuses a back office whose certificate is not from its pinned CA and marks nothing") {
  BackofficeHarness impostor(9);
  BackofficeHarness real(1);
  TempDir dir;
  auto journal = open_journal(dir, "gate-1");
  journal_taps(*journal, 5);
  auto options = options_for(real, "gate-1");  // pins the real operator's CA
  options.port = impostor.port();
  SyncAgent agent(*journal, options);
  auto refused = agent.sync_once();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kCrypto);
  CHECK(refused.error().message.find("untrusted_certificate") != std::string::npos);
  CHECK(journal->stats()->unsynced == 5);
  CHECK(impostor.store().tap_count().value() == 0);
}

TEST_CASE("a journal whose device id is not the certificate's is refused by the back office") {
  BackofficeHarness bo;
  TempDir dir;
  auto journal = open_journal(dir, "gate-a");
  journal_taps(*journal, 3);
  auto options = options_for(bo, "gate-b");  // someone else's certificate
  SyncAgent agent(*journal, options);
  auto refused = agent.sync_once();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kProtocol);
  CHECK(refused.error().message.find("identity_mismatch") != std::string::npos);
  CHECK(journal->stats()->unsynced == 3);
  CHECK(bo.store().tap_count().value() == 0);
}

TEST_CASE("a validator resumes from the back office's watermark after a lost session") {
  BackofficeHarness bo;
  TempDir dir;
  auto journal = open_journal(dir, "gate-1");
  journal_taps(*journal, 40);
  // The back office already holds 1..25 (an ack that never reached the validator).
  std::vector<faregate::v1::TapRecord> held;
  auto first = journal->unsynced(25);
  REQUIRE(first);
  REQUIRE(bo.store().store_batch("gate-1", *first));
  SyncAgent agent(*journal, options_for(bo, "gate-1", 10));
  auto report = agent.sync_once();
  REQUIRE(report);
  CHECK(report->server_had_through == 25);
  CHECK(report->taps_sent == 15);
  CHECK(report->duplicates == 0);
  CHECK(report->acknowledged_through == 40);
}

TEST_CASE("deny list deltas, a full list after missed versions, and config bundles reach the journal whole") {
  faregate::denylist::PushStoreOptions push_options;
  push_options.max_history_versions = 2;
  BackofficeHarness bo(1, {}, push_options);
  TempDir dir;
  auto journal = open_journal(dir, "gate-1");
  SyncAgent agent(*journal, options_for(bo, "gate-1", 50));

  REQUIRE(bo.pushes().change_deny_list(std::vector<Bytes>{token(1), token(2)}, {}));  // v1
  auto first = agent.sync_once();  // nothing journaled: the empty batch collects the push
  REQUIRE(first);
  CHECK(first->deny_list_applied == 1);
  CHECK(journal->deny_list_version().value() == 1);
  CHECK(denied(*journal, 1));
  CHECK(denied(*journal, 2));

  REQUIRE(bo.pushes().change_deny_list(std::vector<Bytes>{token(3)}, {}));                // v2
  REQUIRE(bo.pushes().change_deny_list({}, std::vector<Bytes>{token(1)}));                // v3
  journal_taps(*journal, 7);
  auto delta = agent.sync_once();
  REQUIRE(delta);
  CHECK(delta->deny_list_applied == 3);
  CHECK(bo.server().counters().deny_list_pushes == 2);
  CHECK_FALSE(denied(*journal, 1));
  CHECK(denied(*journal, 2));
  CHECK(denied(*journal, 3));

  // The validator misses three versions while the back office keeps only two of history.
  REQUIRE(bo.pushes().change_deny_list(std::vector<Bytes>{token(4)}, {}));                // v4
  REQUIRE(bo.pushes().change_deny_list(std::vector<Bytes>{token(5)}, {}));                // v5
  REQUIRE(bo.pushes().change_deny_list({}, std::vector<Bytes>{token(2)}));                // v6
  REQUIRE(bo.pushes().delta_base().value() > 3);
  faregate::v1::ConfigBundle bundle;
  bundle.set_anti_passback_seconds(45);
  bundle.set_sync_interval_seconds(20);
  bundle.set_sync_batch_taps(7);
  REQUIRE(bo.pushes().set_config(bundle));
  auto full = agent.sync_once();
  REQUIRE(full);
  CHECK(full->deny_list_applied == 6);
  CHECK(full->config_applied == 1);
  CHECK(journal->deny_list_version().value() == 6);
  for (std::uint8_t n : {3, 4, 5}) CHECK(denied(*journal, n));
  for (std::uint8_t n : {1, 2}) CHECK_FALSE(denied(*journal, n));
  CHECK(journal->config().value().version() == 1);
  CHECK(journal->config().value().anti_passback_seconds() == 45);

  // The pushed config now drives the agent.
  CHECK(agent.interval() == 20s);
  CHECK(agent.batch_taps() == 7);
  journal_taps(*journal, 15);
  auto paced = agent.sync_once();
  REQUIRE(paced);
  CHECK(paced->taps_sent == 15);
  CHECK(paced->batches == 3);  // 7 + 7 + 1
  CHECK(paced->deny_list_applied == 0);  // up to date: nothing pushed
}

TEST_CASE("backoff doubles from its initial delay up to its cap with bounded jitter") {
  std::uint64_t calls = 0;
  std::uint64_t last_bound = 0;
  Backoff fixed(1000ms, 8000ms, [&](std::uint64_t bound) {
    ++calls;
    last_bound = bound;
    return bound - 1;  // the most jitter allowed
  });
  CHECK(fixed.next_delay() == 1000ms);   // 500 fixed + up to 500
  CHECK(last_bound == 501);
  CHECK(fixed.next_delay() == 2000ms);
  CHECK(fixed.next_delay() == 4000ms);
  CHECK(fixed.next_delay() == 8000ms);
  CHECK(fixed.next_delay() == 8000ms);   // capped
  CHECK(fixed.failures() == 5);
  fixed.reset();
  CHECK(fixed.next_delay() == 1000ms);
  CHECK(calls == 6);

  Backoff none(1000ms, 8000ms, [](std::uint64_t) { return 0; });
  CHECK(none.next_delay() == 500ms);
  CHECK(none.next_delay() == 1000ms);

  // Real jitter spreads a fleet out.
  auto drbg = faregate::crypto::Drbg::deterministic(3);
  std::vector<std::chrono::milliseconds> firsts;
  for (int i = 0; i < 20; ++i) {
    Backoff b(1000ms, 60'000ms, [&](std::uint64_t bound) { return drbg.uniform(bound); });
    b.next_delay();
    firsts.push_back(b.next_delay());
    CHECK(firsts.back() >= 1000ms);
    CHECK(firsts.back() <= 2000ms);
  }
  std::sort(firsts.begin(), firsts.end());
  CHECK(std::unique(firsts.begin(), firsts.end()) - firsts.begin() > 10);
}

TEST_CASE("the sync loop backs off while the back office is down and syncs once it is back") {
  BackofficeHarness bo;
  const std::uint16_t port = bo.port();
  bo.stop();  // down: connections are refused
  TempDir dir;
  auto journal = open_journal(dir, "gate-1");
  journal_taps(*journal, 12);
  auto options = options_for(bo, "gate-1");
  options.port = port;
  options.backoff_initial = 100ms;
  options.backoff_max = 1000ms;
  options.interval = 30s;
  SyncAgent agent(*journal, options);
  auto jitter = faregate::crypto::Drbg::deterministic(5);

  std::vector<std::chrono::milliseconds> waits;
  agent.run(
      [&](std::chrono::milliseconds delay) {
        waits.push_back(delay);
        if (waits.size() == 4) bo.start();  // the back office comes back, on the same port
        return journal->stats()->unsynced == 0 || waits.size() > 8;
      },
      jitter);
  REQUIRE(waits.size() == 5);
  // Four failed sessions: growing waits, each within [base/2, base].
  CHECK(waits[0] >= 50ms);
  CHECK(waits[0] <= 100ms);
  CHECK(waits[1] >= 100ms);
  CHECK(waits[1] <= 200ms);
  CHECK(waits[2] >= 200ms);
  CHECK(waits[3] >= 400ms);
  CHECK(waits[3] <= 800ms);
  // Then a session that synced everything, and the regular interval.
  CHECK(waits[4] == 30s);
  CHECK(journal->stats()->unsynced == 0);
  CHECK(bo.store().stored_through("gate-1").value() == 12);
}
