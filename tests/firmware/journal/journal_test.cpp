#include "firmware/journal/journal.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"
#include "tests/firmware/journal/test_support.h"

namespace faregate::journal {
namespace {

namespace v1 = faregate::v1;
using google::protobuf::util::MessageDifferencer;
using test::make_tap;
using test::RawDb;
using test::read_file;
using faregate::testing::TempDir;

constexpr const char* kDevice = "val-0042";

std::unique_ptr<Journal> open_ok(const std::filesystem::path& path,
                                 std::string_view device = kDevice) {
  auto journal = Journal::open(path, device);
  if (!journal) FAIL("open failed: " << journal.error().describe());
  return std::move(*journal);
}

std::uint64_t append_ok(Journal& journal, const v1::TapRecord& tap) {
  auto seq = journal.append(tap);
  if (!seq) FAIL("append failed: " << seq.error().describe());
  return *seq;
}

std::vector<v1::TapRecord> unsynced_ok(Journal& journal, std::size_t limit) {
  auto taps = journal.unsynced(limit);
  if (!taps) FAIL("unsynced failed: " << taps.error().describe());
  return std::move(*taps);
}

JournalStats stats_ok(Journal& journal) {
  auto stats = journal.stats();
  if (!stats) FAIL("stats failed: " << stats.error().describe());
  return *stats;
}

std::vector<std::uint64_t> seqs_of(const std::vector<v1::TapRecord>& taps) {
  std::vector<std::uint64_t> seqs;
  for (const auto& tap : taps) seqs.push_back(tap.seq());
  return seqs;
}

bool denied(Journal& journal, const std::string& token) {
  auto result = journal.is_denied(as_bytes(token));
  if (!result) FAIL("is_denied failed: " << result.error().describe());
  return *result;
}

std::uint64_t deny_version(Journal& journal) {
  auto version = journal.deny_list_version();
  if (!version) FAIL("deny_list_version failed: " << version.error().describe());
  return *version;
}

v1::DenyListDelta delta(std::uint64_t from, std::uint64_t to, std::vector<std::string> added,
                        std::vector<std::string> removed = {}) {
  v1::DenyListDelta d;
  d.set_from_version(from);
  d.set_to_version(to);
  for (auto& t : added) d.add_added(t);
  for (auto& t : removed) d.add_removed(t);
  return d;
}

// ---- sequence numbers ----------------------------------------------------------------------

TEST_CASE("journal issues seq 1 first and strictly increasing seqs after it") {
  TempDir dir;
  auto journal = open_ok(dir / "journal.db");
  std::vector<std::uint64_t> seqs;
  for (std::uint64_t i = 0; i < 5; ++i) seqs.push_back(append_ok(*journal, make_tap(i)));
  CHECK(seqs == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  CHECK(stats_ok(*journal).last_seq == 5);
}

TEST_CASE("journal stamps its device id and seq over whatever the caller put in the record") {
  TempDir dir;
  auto journal = open_ok(dir / "journal.db");
  v1::TapRecord tap = make_tap(7);
  tap.set_device_id("someone-else");
  tap.set_seq(999);
  REQUIRE(append_ok(*journal, tap) == 1);

  auto stored = unsynced_ok(*journal, 10);
  REQUIRE(stored.size() == 1);
  v1::TapRecord expected = make_tap(7);
  expected.set_device_id(kDevice);
  expected.set_seq(1);
  CHECK(MessageDifferencer::Equals(stored[0], expected));
}

TEST_CASE("journal keeps seq after reopen") {
  TempDir dir;
  {
    auto journal = open_ok(dir / "journal.db");
    for (std::uint64_t i = 0; i < 3; ++i) append_ok(*journal, make_tap(i));
  }
  auto journal = open_ok(dir / "journal.db");
  CHECK(stats_ok(*journal).last_seq == 3);
  CHECK(append_ok(*journal, make_tap(3)) == 4);
  CHECK(seqs_of(unsynced_ok(*journal, 10)) == std::vector<std::uint64_t>{1, 2, 3, 4});
}

TEST_CASE("journal never reuses a seq after every tap was pruned and the file reopened") {
  TempDir dir;
  {
    auto journal = open_ok(dir / "journal.db");
    for (std::uint64_t i = 0; i < 5; ++i) append_ok(*journal, make_tap(i));
    REQUIRE(journal->mark_synced(5));
    auto pruned = journal->prune(std::numeric_limits<std::int64_t>::max());
    REQUIRE(pruned);
    REQUIRE(*pruned == 5);
    REQUIRE(stats_ok(*journal).stored == 0);
  }
  auto journal = open_ok(dir / "journal.db");
  CHECK(append_ok(*journal, make_tap(5)) == 6);
}

TEST_CASE("two connections to one file never issue the same seq") {
  TempDir dir;
  auto first = open_ok(dir / "journal.db");
  auto second = open_ok(dir / "journal.db");
  CHECK(append_ok(*first, make_tap(0)) == 1);
  CHECK(append_ok(*second, make_tap(1)) == 2);
  CHECK(append_ok(*first, make_tap(2)) == 3);
  CHECK(seqs_of(unsynced_ok(*second, 10)) == std::vector<std::uint64_t>{1, 2, 3});
}

TEST_CASE("concurrent appends from several threads get unique contiguous seqs") {
  TempDir dir;
  auto journal = open_ok(dir / "journal.db");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 15;
  std::vector<std::vector<std::uint64_t>> got(kThreads);
  std::vector<int> failures(kThreads, 0);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto seq = journal->append(make_tap(static_cast<std::uint64_t>(t * 100 + i)));
          if (seq) {
            got[static_cast<std::size_t>(t)].push_back(*seq);
          } else {
            ++failures[static_cast<std::size_t>(t)];
          }
        }
      });
    }
  }
  std::vector<std::uint64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    CHECK(failures[static_cast<std::size_t>(t)] == 0);
    const auto& mine = got[static_cast<std::size_t>(t)];
    CHECK(std::is_sorted(mine.begin(), mine.end()));  // each thread sees its own seqs grow
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<std::uint64_t> expected(kThreads * kPerThread);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
  CHECK(all == expected);
}

// ---- unsynced / mark_synced / prune ---------------------------------------------------------

TEST_CASE("unsynced returns unacknowledged taps in ascending seq up to the limit") {
  TempDir dir;
  auto journal = open_ok(dir / "journal.db");
  for (std::uint64_t i = 0; i < 10; ++i) append_ok(*journal, make_tap(i));

  CHECK(unsynced_ok(*journal, 0).empty());
  CHECK(seqs_of(unsynced_ok(*journal, 4)) == std::vector<std::uint64_t>{1, 2, 3, 4});
  auto all = unsynced_ok(*journal, 1000);
  REQUIRE(all.size() == 10);
  for (std::size_t i = 0; i < all.size(); ++i) {
    v1::TapRecord expected = make_tap(i);
    expected.set_device_id(kDevice);
    expected.set_seq(i + 1);
    CHECK(MessageDifferencer::Equals(all[i], expected));
  }
}

TEST_CASE("mark_synced hides acknowledged taps from unsynced") {
  TempDir dir;
  auto journal = open_ok(dir / "journal.db");
  for (std::uint64_t i = 0; i < 6; ++i) append_ok(*journal, make_tap(i));
  REQUIRE(journal->mark_synced(4));
  CHECK(seqs_of(unsynced_ok(*journal, 100)) == std::vector<std::uint64_t>{5, 6});
  append_ok(*journal, make_tap(6));
  CHECK(seqs_of(unsynced_ok(*journal, 100)) == std::vector<std::uint64_t>{5, 6, 7});
  REQUIRE(journal->mark_synced(7));
  CHECK(unsynced_ok(*journal, 100).empty());
}

TEST_CASE("mark_synced never moves backwards, also across reopen") {
  TempDir dir;
  {
    auto journal = open_ok(dir / "journal.db");
    for (std::uint64_t i = 0; i < 8; ++i) append_ok(*journal, make_tap(i));
    REQUIRE(journal->mark_synced(5));
    auto late_ack = journal->mark_synced(3);
    CHECK(late_ack.has_value());  // a stale ack is not an error, just ignored
    CHECK(stats_ok(*journal).synced_through == 5);
  }
  auto journal = open_ok(dir / "journal.db");
  CHECK(stats_ok(*journal).synced_through == 5);
  CHECK(seqs_of(unsynced_ok(*journal, 100)) == std::vector<std::uint64_t>{6, 7, 8});
}

TEST_CASE("mark_synced beyond the last seq is refused and changes nothing") {
  TempDir dir;
  auto journal = open_ok(dir / "journal.db");
  auto on_empty = journal->mark_synced(1);
  REQUIRE_FALSE(on_empty);
  CHECK(on_empty.error().code == ErrorCode::kInvalidArgument);

  for (std::uint64_t i = 0; i < 3; ++i) append_ok(*journal, make_tap(i));
  auto beyond = journal->mark_synced(4);
  REQUIRE_FALSE(beyond);
  CHECK(beyond.error().code == ErrorCode::kInvalidArgument);
  CHECK(stats_ok(*journal).synced_through == 0);
  CHECK(unsynced_ok(*journal, 100).size() == 3);
  CHECK(journal->mark_synced(3).has_value());
}

TEST_CASE("prune deletes only acknowledged taps older than the cutoff") {
  TempDir dir;
  auto journal = open_ok(dir / "journal.db");
  for (std::uint64_t i = 1; i <= 6; ++i) {
    append_ok(*journal, make_tap(i, static_cast<std::int64_t>(i) * 1000));  // seq i at i*1000 ms
  }
  REQUIRE(journal->mark_synced(4));

  auto first = journal->prune(2500);  // seqs 1 and 2 are acked and older
  REQUIRE(first);
  CHECK(*first == 2);
  CHECK(stats_ok(*journal).stored == 4);

  auto second = journal->prune(100'000);  // 3 and 4 go; 5 and 6 are not acked and stay
  REQUIRE(second);
  CHECK(*second == 2);
  CHECK(seqs_of(unsynced_ok(*journal, 100)) == std::vector<std::uint64_t>{5, 6});
  CHECK(stats_ok(*journal).stored == 2);

  auto nothing = journal->prune(100'000);
  REQUIRE(nothing);
  CHECK(*nothing == 0);
}

TEST_CASE("stats counts last seq, acknowledged, unsynced, stored and oldest unsynced time") {
  TempDir dir;
  auto journal = open_ok(dir / "journal.db");
  JournalStats empty = stats_ok(*journal);
  CHECK(empty.last_seq == 0);
  CHECK(empty.synced_through == 0);
  CHECK(empty.unsynced == 0);
  CHECK(empty.stored == 0);
  CHECK(empty.oldest_unsynced_utc_ms == 0);

  // Wall-clock times out of seq order, as after a clock correction.
  const std::int64_t times[] = {5000, 1000, 3000, 4000, 2000};
  for (std::uint64_t i = 0; i < 5; ++i) append_ok(*journal, make_tap(i, times[i]));
  REQUIRE(journal->mark_synced(2));
  JournalStats s = stats_ok(*journal);
  CHECK(s.last_seq == 5);
  CHECK(s.synced_through == 2);
  CHECK(s.unsynced == 3);
  CHECK(s.stored == 5);
  CHECK(s.oldest_unsynced_utc_ms == 2000);

  REQUIRE(journal->prune(6000));
  REQUIRE(journal->mark_synced(5));
  s = stats_ok(*journal);
  CHECK(s.last_seq == 5);
  CHECK(s.unsynced == 0);
  CHECK(s.stored == 3);
  CHECK(s.oldest_unsynced_utc_ms == 0);
}

// ---- opening --------------------------------------------------------------------------------

TEST_CASE("journal file is SQLite in WAL mode with the journal application id and schema") {
  TempDir dir;
  { open_ok(dir / "journal.db"); }
  RawDb raw(dir / "journal.db");
  CHECK(raw.query_text("PRAGMA journal_mode") == "wal");
  CHECK(raw.query_int("PRAGMA application_id") == 0x46474A4C);
  CHECK(raw.query_int("PRAGMA user_version") == 1);
  CHECK(raw.query_text("SELECT device_id FROM journal_meta") == kDevice);
  CHECK(raw.query_int("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                      "('journal_meta', 'taps', 'deny_list', 'config')") == 4);
}

TEST_CASE("journal refuses a file of another device and leaves it as it was") {
  TempDir dir;
  {
    auto journal = open_ok(dir / "journal.db", "val-A");
    for (std::uint64_t i = 0; i < 3; ++i) append_ok(*journal, make_tap(i));
  }
  auto other = Journal::open(dir / "journal.db", "val-B");
  REQUIRE_FALSE(other);
  CHECK(other.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(other.error().message, Catch::Contains("val-A"));

  auto owner = open_ok(dir / "journal.db", "val-A");
  CHECK(stats_ok(*owner).last_seq == 3);
}

TEST_CASE("journal refuses an empty device id") {
  TempDir dir;
  auto journal = Journal::open(dir / "journal.db", "");
  REQUIRE_FALSE(journal);
  CHECK(journal.error().code == ErrorCode::kInvalidArgument);
  CHECK_FALSE(std::filesystem::exists(dir / "journal.db"));
}

TEST_CASE("journal requires an existing directory and does not create it") {
  TempDir dir;
  auto journal = Journal::open(dir / "unmounted" / "journal.db", kDevice);
  REQUIRE_FALSE(journal);
  CHECK(journal.error().code == ErrorCode::kIo);
  CHECK_THAT(journal.error().message, Catch::Contains("does not exist"));
  CHECK_FALSE(std::filesystem::exists(dir / "unmounted"));
}

TEST_CASE("journal refuses a garbage file with kCorrupt and leaves it untouched") {
  TempDir dir;
  const auto path = dir / "journal.db";
  std::string garbage;
  SECTION("random bytes") {
    std::uint64_t x = 0x243F6A8885A308D3ULL;
    for (int i = 0; i < 8192; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      garbage.push_back(static_cast<char>(x >> 56));
    }
  }
  SECTION("a short text file") { garbage = "device=val-0042\nthis is not a journal\n"; }
  test::write_file(path, garbage);

  auto journal = Journal::open(path, kDevice);
  REQUIRE_FALSE(journal);
  CHECK(journal.error().code == ErrorCode::kCorrupt);
  CHECK(read_file(path) == garbage);
  CHECK_FALSE(std::filesystem::exists(dir / "journal.db-wal"));
}

TEST_CASE("journal refuses an SQLite database of another program and leaves it untouched") {
  TempDir dir;
  const auto path = dir / "journal.db";
  {
    RawDb raw(path);
    raw.exec("CREATE TABLE playlist (title TEXT); INSERT INTO playlist VALUES ('x')");
  }
  const std::string before = read_file(path);
  auto journal = Journal::open(path, kDevice);
  REQUIRE_FALSE(journal);
  CHECK(journal.error().code == ErrorCode::kCorrupt);
  CHECK(read_file(path) == before);
}

TEST_CASE("journal refuses a file whose pages are damaged (integrity check)") {
  TempDir dir;
  const auto path = dir / "journal.db";
  {
    auto journal = open_ok(path);
    for (std::uint64_t i = 0; i < 40; ++i) append_ok(*journal, make_tap(i));
  }  // the last close checkpoints everything into the main file
  std::string bytes = read_file(path);
  const std::size_t page_size = 4096;
  REQUIRE(bytes.size() > 3 * page_size);
  // Smash only the last page, a leaf of the taps table: the header, the schema and journal_meta
  // stay readable, so only the integrity check can notice.
  for (std::size_t i = bytes.size() - page_size; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>(0xA5);
  }
  test::write_file(path, bytes);

  auto journal = Journal::open(path, kDevice);
  REQUIRE_FALSE(journal);
  CHECK(journal.error().code == ErrorCode::kCorrupt);
  CHECK_THAT(journal.error().message, Catch::Contains("integrity check"));
  CHECK(read_file(path) == bytes);
}

TEST_CASE("journal refuses a schema written by newer firmware and leaves it untouched") {
  TempDir dir;
  const auto path = dir / "journal.db";
  {
    auto journal = open_ok(path);
    append_ok(*journal, make_tap(0));
  }
  { RawDb(path).exec("PRAGMA user_version = 99"); }
  const std::string before = read_file(path);
  auto journal = Journal::open(path, kDevice);
  REQUIRE_FALSE(journal);
  CHECK(journal.error().code == ErrorCode::kCorrupt);
  CHECK_THAT(journal.error().message, Catch::Contains("newer"));
  CHECK(read_file(path) == before);
}

TEST_CASE("unsynced reports a damaged record as kCorrupt instead of crashing") {
  TempDir dir;
  const auto path = dir / "journal.db";
  {
    auto journal = open_ok(path);
    for (std::uint64_t i = 0; i < 3; ++i) append_ok(*journal, make_tap(i));
  }
  SECTION("bytes that do not decode") {
    RawDb(path).exec("UPDATE taps SET record = x'ffffffffff' WHERE seq = 2");
  }
  SECTION("a record filed under the wrong seq") {
    RawDb(path).exec("UPDATE taps SET record = (SELECT record FROM taps WHERE seq = 1) "
                     "WHERE seq = 2");
  }
  auto journal = open_ok(path);
  auto taps = journal->unsynced(10);
  REQUIRE_FALSE(taps);
  CHECK(taps.error().code == ErrorCode::kCorrupt);
  CHECK(stats_ok(*journal).last_seq == 3);  // the rest of the journal still works
  CHECK(append_ok(*journal, make_tap(3)) == 4);
}

// ---- deny list ------------------------------------------------------------------------------

TEST_CASE("deny list delta adds and removes card tokens and advances the version") {
  TempDir dir;
  auto journal = open_ok(dir / "journal.db");
  const std::string a = test::card_token(1), b = test::card_token(2), c = test::card_token(3);
  CHECK(deny_version(*journal) == 0);
  CHECK_FALSE(denied(*journal, a));

  REQUIRE(journal->apply_deny_list(delta(0, 1, {a, b})));
  CHECK(denied(*journal, a));
  CHECK(denied(*journal, b));
  CHECK_FALSE(denied(*journal, c));
  CHECK(deny_version(*journal) == 1);

  REQUIRE(journal->apply_deny_list(delta(1, 2, {c}, {a})));
  CHECK_FALSE(denied(*journal, a));
  CHECK(denied(*journal, b));
  CHECK(denied(*journal, c));
  CHECK(deny_version(*journal) == 2);
}

TEST_CASE("deny list full list replaces every token and survives reopen") {
  TempDir dir;
  const std::string a = test::card_token(1), b = test::card_token(2), d = test::card_token(4);
  {
    auto journal = open_ok(dir / "journal.db");
    REQUIRE(journal->apply_deny_list(delta(0, 5, {a, b})));
    v1::DenyListDelta full = delta(0, 9, {d});
    full.set_full(true);
    REQUIRE(journal->apply_deny_list(full));
  }
  auto journal = open_ok(dir / "journal.db");
  CHECK_FALSE(denied(*journal, a));
  CHECK_FALSE(denied(*journal, b));
  CHECK(denied(*journal, d));
  CHECK(deny_version(*journal) == 9);
}

TEST_CASE("deny list delta that does not start at the held version is refused, list unchanged") {
  TempDir dir;
  auto journal = open_ok(dir / "journal.db");
  const std::string a = test::card_token(1), x = test::card_token(24);
  REQUIRE(journal->apply_deny_list(delta(0, 2, {a})));

  SECTION("from a version the validator does not have") {
    auto s = journal->apply_deny_list(delta(5, 6, {x}, {a}));
    REQUIRE_FALSE(s);
    CHECK(s.error().code == ErrorCode::kConflict);
  }
  SECTION("a delta that does not advance the version") {
    auto s = journal->apply_deny_list(delta(2, 2, {x}, {a}));
    REQUIRE_FALSE(s);
    CHECK(s.error().code == ErrorCode::kConflict);
  }
  SECTION("an empty card token") {
    auto s = journal->apply_deny_list(delta(2, 3, {x, ""}, {a}));
    REQUIRE_FALSE(s);
    CHECK(s.error().code == ErrorCode::kInvalidArgument);
  }
  CHECK(denied(*journal, a));
  CHECK_FALSE(denied(*journal, x));
  CHECK(deny_version(*journal) == 2);
}

// ---- config ---------------------------------------------------------------------------------

TEST_CASE("config starts at version 0 and is stored whole across reopen") {
  TempDir dir;
  v1::ConfigBundle bundle;
  bundle.set_version(3);
  bundle.set_anti_passback_seconds(600);
  bundle.set_sync_interval_seconds(30);
  bundle.set_sync_batch_taps(250);
  (*bundle.mutable_extra())["service_day_cutoff"] = "04:30";
  (*bundle.mutable_extra())["time_zone"] = "Europe/Lisbon";
  {
    auto journal = open_ok(dir / "journal.db");
    auto initial = journal->config();
    REQUIRE(initial);
    CHECK(initial->version() == 0);
    REQUIRE(journal->apply_config(bundle));
  }
  auto journal = open_ok(dir / "journal.db");
  auto stored = journal->config();
  REQUIRE(stored);
  CHECK(MessageDifferencer::Equals(*stored, bundle));
}

TEST_CASE("config with a lower version is refused and an equal version changes nothing") {
  TempDir dir;
  auto journal = open_ok(dir / "journal.db");
  v1::ConfigBundle v3;
  v3.set_version(3);
  v3.set_anti_passback_seconds(600);
  REQUIRE(journal->apply_config(v3));

  v1::ConfigBundle v2;
  v2.set_version(2);
  v2.set_anti_passback_seconds(60);
  auto older = journal->apply_config(v2);
  REQUIRE_FALSE(older);
  CHECK(older.error().code == ErrorCode::kConflict);

  v1::ConfigBundle same_version = v3;
  same_version.set_anti_passback_seconds(1);
  CHECK(journal->apply_config(same_version).has_value());
  auto held = journal->config();
  REQUIRE(held);
  CHECK(held->anti_passback_seconds() == 600);

  v1::ConfigBundle v4;
  v4.set_version(4);
  v4.set_sync_batch_taps(100);
  REQUIRE(journal->apply_config(v4));
  held = journal->config();
  REQUIRE(held);
  CHECK(MessageDifferencer::Equals(*held, v4));  // whole: the v3 anti-passback is gone
}

}  // namespace
}  // namespace faregate::journal
