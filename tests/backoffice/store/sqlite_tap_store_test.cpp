#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <limits>

#include "backoffice/store/sqlite_tap_store.h"
#include "tests/backoffice/backoffice_test_support.h"

using faregate::ErrorCode;
using faregate::store::SqliteTapStore;
using faregate::store::SqliteTapStoreOptions;
using faregate::testing::make_tap;
using faregate::testing::make_taps;
using faregate::testing::ScratchDir;
namespace v1 = faregate::v1;

namespace {

std::unique_ptr<SqliteTapStore> open_store(const std::filesystem::path& path,
                                           SqliteTapStoreOptions options = {}) {
  auto store = SqliteTapStore::open(path, std::move(options));
  if (!store) FAIL("open failed: " << store.error().describe());
  return std::move(*store);
}

// Runs SQL on the file through a second connection, as an operator's tool (or an attacker with
// disk access) would.
void exec_sql(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string text = message != nullptr ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  INFO(text);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("store_batch inserts taps and advances the watermark") {
  ScratchDir dir;
  auto store = open_store(dir.path() / "taps.db");
  auto taps = make_taps("gate-1", 1, 5);
  auto outcome = store->store_batch("gate-1", taps);
  REQUIRE(outcome);
  CHECK(outcome->inserted == 5);
  CHECK(outcome->duplicates == 0);
  CHECK(outcome->conflicts == 0);
  CHECK(outcome->stored_through_seq == 5);
  CHECK(store->stored_through("gate-1").value() == 5);
  CHECK(store->stored_through("gate-unknown").value() == 0);
  CHECK(store->tap_count().value() == 5);
  auto held = store->taps_of_device("gate-1", 1, 10);
  REQUIRE(held);
  REQUIRE(held->size() == 5);
  CHECK(held->at(2).SerializeAsString() == taps[2].SerializeAsString());
}

TEST_CASE("watermark stops at a gap and advances when the gap is filled") {
  ScratchDir dir;
  auto store = open_store(dir.path() / "taps.db");
  auto first = store->store_batch("gate-1", make_taps("gate-1", 1, 3));
  REQUIRE(first);
  CHECK(first->stored_through_seq == 3);

  // 4 and 5 lost in transit; 6..8 arrive.
  auto after_gap = store->store_batch("gate-1", make_taps("gate-1", 6, 8));
  REQUIRE(after_gap);
  CHECK(after_gap->inserted == 3);
  CHECK(after_gap->stored_through_seq == 3);

  auto half = store->store_batch("gate-1", make_taps("gate-1", 5, 5));
  REQUIRE(half);
  CHECK(half->stored_through_seq == 3);

  auto filled = store->store_batch("gate-1", make_taps("gate-1", 4, 4));
  REQUIRE(filled);
  CHECK(filled->inserted == 1);
  CHECK(filled->stored_through_seq == 8);
  CHECK(store->stored_through("gate-1").value() == 8);
}

TEST_CASE("a resent batch counts as duplicates and is not stored twice") {
  ScratchDir dir;
  auto store = open_store(dir.path() / "taps.db");
  const auto taps = make_taps("gate-1", 1, 10);
  REQUIRE(store->store_batch("gate-1", taps));
  auto again = store->store_batch("gate-1", taps);
  REQUIRE(again);
  CHECK(again->inserted == 0);
  CHECK(again->duplicates == 10);
  CHECK(again->conflicts == 0);
  CHECK(again->stored_through_seq == 10);
  CHECK(store->tap_count().value() == 10);
  CHECK(store->conflicts().value().empty());

  // Overlapping resend: 6..15, of which 6..10 are held.
  auto overlap = store->store_batch("gate-1", make_taps("gate-1", 6, 15));
  REQUIRE(overlap);
  CHECK(overlap->inserted == 5);
  CHECK(overlap->duplicates == 5);
  CHECK(overlap->stored_through_seq == 15);
  CHECK(store->tap_count().value() == 15);
}

TEST_CASE("the same seq twice in one batch is stored once") {
  ScratchDir dir;
  auto store = open_store(dir.path() / "taps.db");
  std::vector<v1::TapRecord> taps = {make_tap("gate-1", 1), make_tap("gate-1", 1),
                                     make_tap("gate-1", 2)};
  auto outcome = store->store_batch("gate-1", taps);
  REQUIRE(outcome);
  CHECK(outcome->inserted == 2);
  CHECK(outcome->duplicates == 1);
  CHECK(outcome->stored_through_seq == 2);
  CHECK(store->tap_count().value() == 2);
}

TEST_CASE("same seq with different content becomes a conflict and the original is kept") {
  ScratchDir dir;
  std::int64_t now = 1'800'000'000'000;
  auto store = open_store(dir.path() / "taps.db", {.utc_now_ms = [&] { return now; }});
  const auto original = make_tap("gate-1", 2, /*card=*/7);
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 3)));

  auto changed = make_tap("gate-1", 2, /*card=*/9);
  auto outcome = store->store_batch("gate-1", std::vector<v1::TapRecord>{changed});
  REQUIRE(outcome);
  CHECK(outcome->inserted == 0);
  CHECK(outcome->duplicates == 0);
  CHECK(outcome->conflicts == 1);
  CHECK(outcome->stored_through_seq == 3);

  auto held = store->taps_of_device("gate-1", 2, 1);
  REQUIRE(held);
  REQUIRE(held->size() == 1);
  CHECK(held->front().card_token() == original.card_token());

  auto conflicts = store->conflicts();
  REQUIRE(conflicts);
  REQUIRE(conflicts->size() == 1);
  const auto& c = conflicts->front();
  CHECK(c.device_id == "gate-1");
  CHECK(c.seq == 2);
  CHECK(c.held.card_token() == original.card_token());
  CHECK(c.received.card_token() == changed.card_token());
  CHECK(c.received_at_utc_ms == 1'800'000'000'000);

  // The same contradicting version again (a lost ack): reported again, kept once.
  now += 60'000;
  auto resent = store->store_batch("gate-1", std::vector<v1::TapRecord>{changed});
  REQUIRE(resent);
  CHECK(resent->conflicts == 1);
  CHECK(store->conflicts().value().size() == 1);
  CHECK(store->tap_count().value() == 3);
}

TEST_CASE("a tap of another device is refused and nothing of the batch is stored") {
  ScratchDir dir;
  auto store = open_store(dir.path() / "taps.db");
  auto taps = make_taps("gate-1", 1, 3);
  taps.push_back(make_tap("gate-2", 4));
  auto outcome = store->store_batch("gate-1", taps);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == ErrorCode::kInvalidArgument);
  CHECK(store->tap_count().value() == 0);
  CHECK(store->stored_through("gate-1").value() == 0);
  CHECK(store->device_summaries().value().empty());
}

TEST_CASE("seq 0 and seq beyond the signed 64-bit range are refused") {
  ScratchDir dir;
  auto store = open_store(dir.path() / "taps.db");
  auto zero = store->store_batch("gate-1", std::vector<v1::TapRecord>{make_tap("gate-1", 0)});
  REQUIRE_FALSE(zero);
  CHECK(zero.error().code == ErrorCode::kInvalidArgument);
  auto huge = store->store_batch(
      "gate-1", std::vector<v1::TapRecord>{make_tap("gate-1", 1), make_tap("gate-1", 1ULL << 63)});
  REQUIRE_FALSE(huge);
  CHECK(huge.error().code == ErrorCode::kInvalidArgument);
  CHECK(store->tap_count().value() == 0);
}

TEST_CASE("an empty batch reports the watermark and changes nothing") {
  ScratchDir dir;
  auto store = open_store(dir.path() / "taps.db");
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 4)));
  auto outcome = store->store_batch("gate-1", std::vector<v1::TapRecord>{});
  REQUIRE(outcome);
  CHECK(outcome->stored_through_seq == 4);
  CHECK(outcome->inserted == 0);
  CHECK(store->tap_count().value() == 4);
}

TEST_CASE("taps and watermarks and conflicts survive closing and reopening the store") {
  ScratchDir dir;
  const auto path = dir.path() / "taps.db";
  {
    auto store = open_store(path);
    REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 4)));
    REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 7, 7)));
    REQUIRE(store->store_batch("gate-2", make_taps("gate-2", 1, 2)));
    REQUIRE(store->store_batch("gate-1", std::vector<v1::TapRecord>{make_tap("gate-1", 3, 1)}));
  }
  auto store = open_store(path);
  CHECK(store->stored_through("gate-1").value() == 4);
  CHECK(store->stored_through("gate-2").value() == 2);
  CHECK(store->tap_count().value() == 7);
  CHECK(store->conflicts().value().size() == 1);
  // Still idempotent after the reopen.
  auto again = store->store_batch("gate-1", make_taps("gate-1", 1, 6));
  REQUIRE(again);
  CHECK(again->duplicates == 4);
  CHECK(again->inserted == 2);
  CHECK(again->stored_through_seq == 7);
}

TEST_CASE("committed batches survive a crash of the process holding the store") {
  // The store is not closed: copying its files while it is open is what a power cut leaves on
  // disk (synchronous=FULL: every committed batch is in the WAL file already).
  ScratchDir dir;
  ScratchDir crash;
  auto store = open_store(dir.path() / "taps.db");
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 100)));
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 101, 150)));
  for (const auto* name : {"taps.db", "taps.db-wal"}) {
    if (std::filesystem::exists(dir.path() / name)) {
      std::filesystem::copy_file(dir.path() / name, crash.path() / name);
    }
  }
  auto recovered = open_store(crash.path() / "taps.db");
  CHECK(recovered->stored_through("gate-1").value() == 150);
  CHECK(recovered->tap_count().value() == 150);
}

TEST_CASE("a failure midway through a batch leaves nothing of it") {
  ScratchDir dir;
  const auto path = dir.path() / "taps.db";
  auto store = open_store(path);
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 2)));
  // Fault injection: the disk "fails" on the fourth tap of the next batch.
  exec_sql(path,
           "CREATE TRIGGER fail_seq_6 BEFORE INSERT ON taps WHEN NEW.seq = 6 "
           "BEGIN SELECT RAISE(ABORT, 'injected write failure'); END;");
  auto failed = store->store_batch("gate-1", make_taps("gate-1", 3, 8));
  REQUIRE_FALSE(failed);
  CHECK(store->tap_count().value() == 2);
  CHECK(store->stored_through("gate-1").value() == 2);
  CHECK(store->taps_of_device("gate-1", 1, 100).value().size() == 2);

  exec_sql(path, "DROP TRIGGER fail_seq_6");
  auto retried = store->store_batch("gate-1", make_taps("gate-1", 3, 8));
  REQUIRE(retried);
  CHECK(retried->inserted == 6);
  CHECK(retried->stored_through_seq == 8);
}

TEST_CASE("device_summaries reports watermark and highest seq and gaps per device") {
  ScratchDir dir;
  auto store = open_store(dir.path() / "taps.db");
  REQUIRE(store->store_batch("gate-b", make_taps("gate-b", 1, 3)));
  REQUIRE(store->store_batch("gate-a", make_taps("gate-a", 1, 2)));
  REQUIRE(store->store_batch("gate-a", make_taps("gate-a", 5, 6)));
  REQUIRE(store->store_batch("gate-a", make_taps("gate-a", 10, 10)));
  auto summaries = store->device_summaries();
  REQUIRE(summaries);
  REQUIRE(summaries->size() == 2);
  const auto& a = summaries->at(0);
  CHECK(a.device_id == "gate-a");
  CHECK(a.stored_through_seq == 2);
  CHECK(a.max_seq == 10);
  CHECK(a.tap_count == 5);
  CHECK(a.missing == 5);  // 3, 4, 7, 8, 9
  const auto& b = summaries->at(1);
  CHECK(b.device_id == "gate-b");
  CHECK(b.stored_through_seq == 3);
  CHECK(b.max_seq == 3);
  CHECK(b.missing == 0);
}

TEST_CASE("taps_of_device returns one device's seq range in order page by page") {
  ScratchDir dir;
  auto store = open_store(dir.path() / "taps.db");
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 25)));
  REQUIRE(store->store_batch("gate-2", make_taps("gate-2", 1, 5)));
  std::vector<std::uint64_t> seen;
  for (std::uint64_t from = 1; from <= 30; from += 10) {
    auto page = store->taps_of_device("gate-1", from, 10);
    REQUIRE(page);
    CHECK(page->size() == (from <= 11 ? 10U : 5U));
    for (const auto& tap : *page) {
      CHECK(tap.device_id() == "gate-1");
      seen.push_back(tap.seq());
    }
  }
  REQUIRE(seen.size() == 25);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == i + 1);
  CHECK(store->taps_of_device("gate-1", 26, 10).value().empty());
  CHECK(store->taps_of_device("gate-1", 1, 0).value().empty());
  // A limit reaching past the largest seq does not overflow.
  const auto unbounded = std::numeric_limits<std::size_t>::max();
  CHECK(store->taps_of_device("gate-1", 20, unbounded).value().size() == 6);
}

TEST_CASE("a file that is not a tap store is refused and not modified") {
  ScratchDir dir;
  SECTION("random bytes") {
    const auto path = dir.path() / "garbage.db";
    std::ofstream(path) << std::string(4096, 'x');
    auto store = SqliteTapStore::open(path);
    REQUIRE_FALSE(store);
    CHECK(store.error().code == ErrorCode::kCorrupt);
  }
  SECTION("another program's SQLite database") {
    const auto path = dir.path() / "other.db";
    exec_sql(path, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
    auto store = SqliteTapStore::open(path);
    REQUIRE_FALSE(store);
    CHECK(store.error().code == ErrorCode::kCorrupt);
  }
  SECTION("a directory") {
    auto store = SqliteTapStore::open(dir.path());
    REQUIRE_FALSE(store);
  }
}

TEST_CASE("a store written by a newer schema version is refused") {
  ScratchDir dir;
  const auto path = dir.path() / "taps.db";
  { open_store(path); }
  exec_sql(path, "PRAGMA user_version = 99");
  auto store = SqliteTapStore::open(path);
  REQUIRE_FALSE(store);
  CHECK(store.error().code == ErrorCode::kCorrupt);
  CHECK(store.error().message.find("newer") != std::string::npos);
}

TEST_CASE("a stored record that no longer parses is reported as corrupt") {
  ScratchDir dir;
  const auto path = dir.path() / "taps.db";
  auto store = open_store(path);
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 2)));
  exec_sql(path, "UPDATE taps SET record = x'ffffffff' WHERE seq = 2");
  auto taps = store->taps_of_device("gate-1", 1, 10);
  REQUIRE_FALSE(taps);
  CHECK(taps.error().code == ErrorCode::kCorrupt);
  // The rest of the store still answers.
  CHECK(store->stored_through("gate-1").value() == 2);
  CHECK(store->taps_of_device("gate-1", 1, 1).value().size() == 1);
}

TEST_CASE("a batch of 1000 taps is stored in one call") {
  ScratchDir dir;
  auto store = open_store(dir.path() / "taps.db");
  auto outcome = store->store_batch("gate-1", make_taps("gate-1", 1, 1000));
  REQUIRE(outcome);
  CHECK(outcome->inserted == 1000);
  CHECK(outcome->stored_through_seq == 1000);
  auto next = store->store_batch("gate-1", make_taps("gate-1", 1001, 2000));
  REQUIRE(next);
  CHECK(next->stored_through_seq == 2000);
}
