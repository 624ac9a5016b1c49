// The TapStore contract (backoffice/store/tap_store.h), one suite run against every backend:
// each TEMPLATE_TEST_CASE below runs once on SQLite ("... - SqliteBackend") and once on a real
// PostgreSQL server ("... - PostgresqlBackend", ctest fixture faregate_postgres).

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/backoffice/store/store_backends.h"

using faregate::ErrorCode;
using faregate::testing::make_tap;
using faregate::testing::make_taps;
using faregate::testing::PostgresqlBackend;
using faregate::testing::SqliteBackend;
namespace v1 = faregate::v1;

TEMPLATE_TEST_CASE("store_batch inserts taps and advances the watermark", "[store]", SqliteBackend,
                   PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
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

TEMPLATE_TEST_CASE("watermark stops at a gap and advances when the gap is filled", "[store]",
                   SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
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

  // A later gap stops it again, however many seqs lie beyond it.
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 10, 40)));
  auto upto_gap = store->store_batch("gate-1", make_taps("gate-1", 9, 9));
  REQUIRE(upto_gap);
  CHECK(upto_gap->stored_through_seq == 40);
}

TEMPLATE_TEST_CASE("a resent batch counts as duplicates and is not stored twice", "[store]",
                   SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
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

TEMPLATE_TEST_CASE("the same seq twice in one batch is stored once", "[store]", SqliteBackend,
                   PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
  std::vector<v1::TapRecord> taps = {make_tap("gate-1", 1), make_tap("gate-1", 1),
                                     make_tap("gate-1", 2)};
  auto outcome = store->store_batch("gate-1", taps);
  REQUIRE(outcome);
  CHECK(outcome->inserted == 2);
  CHECK(outcome->duplicates == 1);
  CHECK(outcome->stored_through_seq == 2);
  CHECK(store->tap_count().value() == 2);
}

TEMPLATE_TEST_CASE("two versions of one seq in one batch: the first is kept, the second conflicts",
                   "[store]", SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
  std::vector<v1::TapRecord> taps = {make_tap("gate-1", 1, /*card=*/3),
                                     make_tap("gate-1", 1, /*card=*/4), make_tap("gate-1", 2)};
  auto outcome = store->store_batch("gate-1", taps);
  REQUIRE(outcome);
  CHECK(outcome->inserted == 2);
  CHECK(outcome->duplicates == 0);
  CHECK(outcome->conflicts == 1);
  CHECK(outcome->stored_through_seq == 2);
  auto held = store->taps_of_device("gate-1", 1, 1);
  REQUIRE(held);
  REQUIRE(held->size() == 1);
  CHECK(held->front().card_token() == std::string(32, '\3'));
  auto conflicts = store->conflicts();
  REQUIRE(conflicts);
  REQUIRE(conflicts->size() == 1);
  CHECK(conflicts->front().held.card_token() == std::string(32, '\3'));
  CHECK(conflicts->front().received.card_token() == std::string(32, '\4'));
}

TEMPLATE_TEST_CASE("same seq with different content becomes a conflict and the original is kept",
                   "[store]", SqliteBackend, PostgresqlBackend) {
  TestType backend;
  std::int64_t now = 1'800'000'000'000;
  auto store = backend.open([&] { return now; });
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

  // A third version is a second conflict row.
  auto third = store->store_batch("gate-1", std::vector<v1::TapRecord>{make_tap("gate-1", 2, 11)});
  REQUIRE(third);
  CHECK(third->conflicts == 1);
  CHECK(store->conflicts().value().size() == 2);
}

TEMPLATE_TEST_CASE("a tap of another device is refused and nothing of the batch is stored",
                   "[store]", SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
  auto taps = make_taps("gate-1", 1, 3);
  taps.push_back(make_tap("gate-2", 4));
  auto outcome = store->store_batch("gate-1", taps);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == ErrorCode::kInvalidArgument);
  CHECK(store->tap_count().value() == 0);
  CHECK(store->stored_through("gate-1").value() == 0);
  CHECK(store->device_summaries().value().empty());
}

TEMPLATE_TEST_CASE("seq 0 and seq beyond the signed 64-bit range are refused", "[store]",
                   SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
  auto zero = store->store_batch("gate-1", std::vector<v1::TapRecord>{make_tap("gate-1", 0)});
  REQUIRE_FALSE(zero);
  CHECK(zero.error().code == ErrorCode::kInvalidArgument);
  auto huge = store->store_batch(
      "gate-1", std::vector<v1::TapRecord>{make_tap("gate-1", 1), make_tap("gate-1", 1ULL << 63)});
  REQUIRE_FALSE(huge);
  CHECK(huge.error().code == ErrorCode::kInvalidArgument);
  CHECK(store->tap_count().value() == 0);
}

TEMPLATE_TEST_CASE("the largest seq and tap times far outside the calendar are stored as sent",
                   "[store]", SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
  // A validator with a broken clock must not be able to wedge its own sync.
  std::vector<v1::TapRecord> taps = {make_tap("gate-1", 1), make_tap("gate-1", 2),
                                     make_tap("gate-1", 3),
                                     make_tap("gate-1", std::numeric_limits<std::int64_t>::max())};
  taps[0].set_tap_time_utc_ms(std::numeric_limits<std::int64_t>::max());
  taps[1].set_tap_time_utc_ms(std::numeric_limits<std::int64_t>::min());
  taps[2].set_tap_time_utc_ms(0);
  auto outcome = store->store_batch("gate-1", taps);
  REQUIRE(outcome);
  CHECK(outcome->inserted == 4);
  CHECK(outcome->stored_through_seq == 3);
  auto held = store->taps_of_device("gate-1", 1, std::numeric_limits<std::size_t>::max());
  REQUIRE(held);
  REQUIRE(held->size() == 4);
  for (std::size_t i = 0; i < taps.size(); ++i) {
    CHECK(held->at(i).SerializeAsString() == taps[i].SerializeAsString());
  }
}

TEMPLATE_TEST_CASE("an empty batch reports the watermark and changes nothing", "[store]",
                   SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 4)));
  auto outcome = store->store_batch("gate-1", std::vector<v1::TapRecord>{});
  REQUIRE(outcome);
  CHECK(outcome->stored_through_seq == 4);
  CHECK(outcome->inserted == 0);
  CHECK(store->tap_count().value() == 4);
  auto unknown = store->store_batch("gate-9", std::vector<v1::TapRecord>{});
  REQUIRE(unknown);
  CHECK(unknown->stored_through_seq == 0);
  CHECK(store->device_summaries().value().size() == 1);
}

TEMPLATE_TEST_CASE("taps and watermarks and conflicts survive closing and reopening the store",
                   "[store]", SqliteBackend, PostgresqlBackend) {
  TestType backend;
  {
    auto store = backend.open();
    REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 4)));
    REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 7, 7)));
    REQUIRE(store->store_batch("gate-2", make_taps("gate-2", 1, 2)));
    REQUIRE(store->store_batch("gate-1", std::vector<v1::TapRecord>{make_tap("gate-1", 3, 1)}));
  }
  auto store = backend.open();
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

TEMPLATE_TEST_CASE("a failure midway through a batch leaves nothing of it", "[store]",
                   SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 2)));
  // Fault injection: the storage "fails" on the fourth tap of the next batch.
  backend.fail_writes_of_seq(6);
  auto failed = store->store_batch("gate-1", make_taps("gate-1", 3, 8));
  REQUIRE_FALSE(failed);
  CHECK(store->tap_count().value() == 2);
  CHECK(store->stored_through("gate-1").value() == 2);
  CHECK(store->taps_of_device("gate-1", 1, 100).value().size() == 2);
  CHECK(store->device_summaries().value().front().max_seq == 2);

  backend.stop_failing_writes();
  auto retried = store->store_batch("gate-1", make_taps("gate-1", 3, 8));
  REQUIRE(retried);
  CHECK(retried->inserted == 6);
  CHECK(retried->stored_through_seq == 8);
}

TEMPLATE_TEST_CASE("device_summaries reports watermark and highest seq and gaps per device",
                   "[store]", SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
  REQUIRE(store->store_batch("gate-b", make_taps("gate-b", 1, 3)));
  REQUIRE(store->store_batch("gate-a", make_taps("gate-a", 1, 2)));
  REQUIRE(store->store_batch("gate-a", make_taps("gate-a", 5, 6)));
  REQUIRE(store->store_batch("gate-a", make_taps("gate-a", 10, 10)));
  // Byte order, whatever the database's collation: upper case before lower case.
  REQUIRE(store->store_batch("Gate-c", make_taps("Gate-c", 1, 1)));
  auto summaries = store->device_summaries();
  REQUIRE(summaries);
  REQUIRE(summaries->size() == 3);
  CHECK(summaries->at(0).device_id == "Gate-c");
  const auto& a = summaries->at(1);
  CHECK(a.device_id == "gate-a");
  CHECK(a.stored_through_seq == 2);
  CHECK(a.max_seq == 10);
  CHECK(a.tap_count == 5);
  CHECK(a.missing == 5);  // 3, 4, 7, 8, 9
  const auto& b = summaries->at(2);
  CHECK(b.device_id == "gate-b");
  CHECK(b.stored_through_seq == 3);
  CHECK(b.max_seq == 3);
  CHECK(b.missing == 0);
}

TEMPLATE_TEST_CASE("taps_of_device returns one device's seq range in order page by page", "[store]",
                   SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
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

TEMPLATE_TEST_CASE("read_taps_of_device reads the same records as taps_of_device into a reused buffer",
                   "[store]", SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
  auto taps = make_taps("gate-1", 1, 12);
  // Fields that a later record lacks must not linger in a reused record.
  taps[0].set_route_id("route-9");
  taps[0].set_atc(77);
  taps.erase(taps.begin() + 8);  // a gap: seq 9 is missing
  REQUIRE(store->store_batch("gate-1", taps));
  std::vector<v1::TapRecord> buffer;
  std::vector<std::string> seen;
  for (std::uint64_t from = 1; from <= 12; from += 5) {
    auto expected = store->taps_of_device("gate-1", from, 5);
    REQUIRE(expected);
    auto n = store->read_taps_of_device("gate-1", from, 5, buffer);
    REQUIRE(n);
    REQUIRE(*n == expected->size());
    CHECK(buffer.size() >= *n);
    for (std::size_t i = 0; i < *n; ++i) {
      CHECK(buffer[i].SerializeAsString() == (*expected)[i].SerializeAsString());
      seen.push_back(buffer[i].SerializeAsString());
    }
  }
  REQUIRE(seen.size() == 11);
  CHECK(seen[5] == taps[5].SerializeAsString());
  CHECK(seen[8] == taps[8].SerializeAsString());  // seq 10, after the gap
  CHECK(store->read_taps_of_device("gate-1", 13, 5, buffer).value() == 0);
  CHECK(store->read_taps_of_device("gate-1", 1, 0, buffer).value() == 0);
  CHECK(store->read_taps_of_device("gate-unknown", 1, 5, buffer).value() == 0);
}

TEMPLATE_TEST_CASE("a store written by a newer schema version is refused", "[store]", SqliteBackend,
                   PostgresqlBackend) {
  TestType backend;
  { backend.open(); }
  backend.stamp_newer_schema();
  auto store = backend.try_open();
  REQUIRE_FALSE(store);
  CHECK(store.error().code == ErrorCode::kCorrupt);
  CHECK(store.error().message.find("newer") != std::string::npos);
}

TEMPLATE_TEST_CASE("a stored record that no longer parses is reported as corrupt", "[store]",
                   SqliteBackend, PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 2)));
  backend.corrupt_record("gate-1", 2);
  auto taps = store->taps_of_device("gate-1", 1, 10);
  REQUIRE_FALSE(taps);
  CHECK(taps.error().code == ErrorCode::kCorrupt);
  // The rest of the store still answers.
  CHECK(store->stored_through("gate-1").value() == 2);
  CHECK(store->taps_of_device("gate-1", 1, 1).value().size() == 1);
}

TEMPLATE_TEST_CASE("a batch of 1000 taps is stored in one call", "[store]", SqliteBackend,
                   PostgresqlBackend) {
  TestType backend;
  auto store = backend.open();
  auto outcome = store->store_batch("gate-1", make_taps("gate-1", 1, 1000));
  REQUIRE(outcome);
  CHECK(outcome->inserted == 1000);
  CHECK(outcome->stored_through_seq == 1000);
  auto next = store->store_batch("gate-1", make_taps("gate-1", 1001, 2000));
  REQUIRE(next);
  CHECK(next->stored_through_seq == 2000);
}

TEMPLATE_TEST_CASE(
    "several stores on the same data ingest overlapping batches at once with exact totals",
    "[store]", SqliteBackend, PostgresqlBackend) {
  // Several ingest nodes (here: store instances, each with its own connection, on their own
  // threads) receive the same devices' batches, overlapping and resent, in any order.
  TestType backend;
  constexpr int kNodes = 3;
  constexpr int kDevices = 4;
  constexpr std::uint64_t kTapsPerDevice = 120;
  std::vector<std::unique_ptr<faregate::store::TapStore>> nodes;
  for (int i = 0; i < kNodes; ++i) nodes.push_back(backend.open());

  struct Tally {
    std::uint64_t inserted = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t conflicts = 0;
    std::uint64_t sent = 0;
    std::vector<std::string> errors;
  };
  std::mutex tally_mutex;
  Tally tally;
  std::vector<std::thread> threads;
  for (int node = 0; node < kNodes; ++node) {
    threads.emplace_back([&, node] {
      std::mt19937_64 random(0xFA2E + static_cast<std::uint64_t>(node));
      Tally mine;
      // Every node sends every device's taps, in batches of random length and start, so that
      // the same taps race through different nodes.
      for (int round = 0; round < 60; ++round) {
        const std::string device = "gate-" + std::to_string(random() % kDevices);
        const std::uint64_t first = 1 + random() % kTapsPerDevice;
        const std::uint64_t last = std::min(kTapsPerDevice, first + random() % 40);
        auto outcome = nodes[static_cast<std::size_t>(node)]->store_batch(
            device, make_taps(device, first, last));
        if (!outcome) {
          mine.errors.push_back(outcome.error().describe());
          continue;
        }
        mine.inserted += outcome->inserted;
        mine.duplicates += outcome->duplicates;
        mine.conflicts += outcome->conflicts;
        mine.sent += last - first + 1;
      }
      // Then the whole of every device once, so that nothing is missing at the end.
      for (int d = 0; d < kDevices; ++d) {
        const std::string device = "gate-" + std::to_string(d);
        auto outcome = nodes[static_cast<std::size_t>(node)]->store_batch(
            device, make_taps(device, 1, kTapsPerDevice));
        if (!outcome) {
          mine.errors.push_back(outcome.error().describe());
          continue;
        }
        mine.inserted += outcome->inserted;
        mine.duplicates += outcome->duplicates;
        mine.conflicts += outcome->conflicts;
        mine.sent += kTapsPerDevice;
      }
      std::lock_guard lock(tally_mutex);
      tally.inserted += mine.inserted;
      tally.duplicates += mine.duplicates;
      tally.conflicts += mine.conflicts;
      tally.sent += mine.sent;
      tally.errors.insert(tally.errors.end(), mine.errors.begin(), mine.errors.end());
    });
  }
  for (auto& thread : threads) thread.join();

  for (const auto& error : tally.errors) UNSCOPED_INFO(error);
  REQUIRE(tally.errors.empty());
  // Each tap inserted exactly once over all nodes; every other copy counted as a duplicate.
  CHECK(tally.inserted == kDevices * kTapsPerDevice);
  CHECK(tally.inserted + tally.duplicates == tally.sent);
  CHECK(tally.conflicts == 0);
  auto reader = backend.open();
  CHECK(reader->tap_count().value() == kDevices * kTapsPerDevice);
  CHECK(reader->conflicts().value().empty());
  for (int d = 0; d < kDevices; ++d) {
    const std::string device = "gate-" + std::to_string(d);
    CHECK(reader->stored_through(device).value() == kTapsPerDevice);
    auto held = reader->taps_of_device(device, 1, kTapsPerDevice + 10);
    REQUIRE(held);
    REQUIRE(held->size() == kTapsPerDevice);
    for (std::uint64_t seq = 1; seq <= kTapsPerDevice; ++seq) {
      CHECK(held->at(seq - 1).SerializeAsString() == make_tap(device, seq).SerializeAsString());
    }
  }
  const auto summaries = reader->device_summaries().value();
  for (const auto& summary : summaries) {
    CHECK(summary.tap_count == kTapsPerDevice);
    CHECK(summary.missing == 0);
  }
}
