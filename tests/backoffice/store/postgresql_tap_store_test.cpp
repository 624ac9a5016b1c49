// What only the PostgreSQL backend has to show: partitions by service day, the key table that
// keeps (device_id, seq) unique across them, the schema guard, reconnection, and several nodes
// starting at once. Runs against the throw-away server of the ctest fixture faregate_postgres.

#include "backoffice/store/postgresql_tap_store.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/backoffice/backoffice_test_support.h"
#include "tests/support/postgres_test_server.h"

using faregate::ErrorCode;
using faregate::store::PostgresqlTapStore;
using faregate::store::PostgresqlTapStoreOptions;
using faregate::store::ServiceDayRule;
using faregate::testing::make_tap;
using faregate::testing::make_taps;
using faregate::testing::PgTestSchema;
namespace v1 = faregate::v1;

namespace {

std::unique_ptr<PostgresqlTapStore> open_store(const PgTestSchema& schema,
                                               PostgresqlTapStoreOptions options = {}) {
  auto store = PostgresqlTapStore::open(schema.uri(), std::move(options));
  if (!store) FAIL("open failed: " << store.error().describe());
  return std::move(*store);
}

// 2026-01-01T00:00:00Z
constexpr std::int64_t kNewYearUtcMs = 1'767'225'600'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kMinuteMs = 60'000;

v1::TapRecord tap_at(const std::string& device, std::uint64_t seq, std::int64_t utc_ms) {
  auto tap = make_tap(device, seq);
  tap.set_tap_time_utc_ms(utc_ms);
  return tap;
}

// Partition name -> rows in it.
std::map<std::string, std::int64_t> partition_rows(PgTestSchema& schema) {
  std::map<std::string, std::int64_t> rows;
  const std::string list = schema.admin().query_text(
      "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits AS i"
      " JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhparent = 'taps'::regclass");
  std::size_t at = 0;
  while (at < list.size()) {
    std::size_t end = list.find(',', at);
    if (end == std::string::npos) end = list.size();
    const std::string name = list.substr(at, end - at);
    rows[name] = schema.admin().query_int("SELECT count(*) FROM " + name);
    at = end + 1;
  }
  return rows;
}

}  // namespace

TEST_CASE("taps go to the partition of their service day, cut at 04:30 UTC by default",
          "[postgresql]") {
  PgTestSchema schema;
  auto store = open_store(schema);
  CHECK(store->service_day_rule() == ServiceDayRule{});
  const std::int64_t cut = kNewYearUtcMs + 4 * kHourMs + 30 * kMinuteMs;
  std::vector<v1::TapRecord> taps = {
      tap_at("gate-1", 1, cut - 1),                 // 2026-01-01 04:29:59.999: still Dec 31
      tap_at("gate-1", 2, cut),                     // 04:30: Jan 1
      tap_at("gate-1", 3, cut + 20 * kHourMs),      // Jan 2 00:30: still Jan 1
      tap_at("gate-1", 4, cut + 24 * kHourMs + 1),  // Jan 2 04:30:00.001: Jan 2
  };
  auto outcome = store->store_batch("gate-1", taps);
  REQUIRE(outcome);
  CHECK(outcome->inserted == 4);
  const std::map<std::string, std::int64_t> expected = {
      {"taps_20251231", 1}, {"taps_20260101", 2}, {"taps_20260102", 1}};
  CHECK(partition_rows(schema) == expected);
  CHECK(schema.admin().query_int("SELECT count(*) FROM ONLY taps") == 0);
  CHECK(schema.admin().query_text("SELECT service_day FROM tap_keys WHERE seq = 3") ==
        "2026-01-01");
}

TEST_CASE("the service day follows the configured time zone across a DST change", "[postgresql]") {
  PgTestSchema schema;
  auto store = open_store(
      schema, {.service_day_rule = ServiceDayRule{"Europe/Paris", std::chrono::minutes(4 * 60)}});
  // 2026-03-29: Paris goes from UTC+1 to UTC+2 at 01:00 UTC.
  const std::int64_t march_29 = 1'774'742'400'000;  // 2026-03-29T00:00:00Z
  std::vector<v1::TapRecord> taps = {
      tap_at("gate-1", 1, march_29 + 1 * kHourMs + 59 * kMinuteMs),  // 03:59 CEST: March 28
      // 04:00 CEST: March 29 (a fixed UTC+1 offset would still say March 28)
      tap_at("gate-1", 2, march_29 + 2 * kHourMs),
      tap_at("gate-1", 3, march_29 - 21 * kHourMs - 1),  // 28th 03:59:59.999 CET: March 27
  };
  REQUIRE(store->store_batch("gate-1", taps));
  const std::map<std::string, std::int64_t> expected = {
      {"taps_20260327", 1}, {"taps_20260328", 1}, {"taps_20260329", 1}};
  CHECK(partition_rows(schema) == expected);
}

TEST_CASE("one device seq is unique across partitions: a changed tap time is a conflict",
          "[postgresql]") {
  PgTestSchema schema;
  auto store = open_store(schema);
  const std::int64_t noon = kNewYearUtcMs + 12 * kHourMs;
  REQUIRE(store->store_batch("gate-1", std::vector<v1::TapRecord>{tap_at("gate-1", 1, noon)}));
  // The same seq again, its time moved to the next service day (a validator whose clock was
  // reset, or a forged record): it must not land in the other partition beside the original.
  auto moved = store->store_batch(
      "gate-1", std::vector<v1::TapRecord>{tap_at("gate-1", 1, noon + 24 * kHourMs)});
  REQUIRE(moved);
  CHECK(moved->inserted == 0);
  CHECK(moved->conflicts == 1);
  CHECK(schema.admin().query_int("SELECT count(*) FROM taps") == 1);
  CHECK(schema.admin().query_int("SELECT count(*) FROM tap_keys") == 1);
  auto held = store->taps_of_device("gate-1", 1, 1);
  REQUIRE(held);
  REQUIRE(held->size() == 1);
  CHECK(held->front().tap_time_utc_ms() == noon);
  auto conflicts = store->conflicts();
  REQUIRE(conflicts);
  REQUIRE(conflicts->size() == 1);
  CHECK(conflicts->front().received.tap_time_utc_ms() == noon + 24 * kHourMs);
}

TEST_CASE("a partition created by an operator in advance is used as it is", "[postgresql]") {
  PgTestSchema schema;
  auto store = open_store(schema);
  schema.admin().exec(
      "CREATE TABLE taps_20260101 PARTITION OF taps FOR VALUES FROM ('2026-01-01') TO "
      "('2026-01-02')");
  std::vector<v1::TapRecord> taps;
  for (std::uint64_t seq = 1; seq <= 10; ++seq) {
    taps.push_back(
        tap_at("gate-1", seq, kNewYearUtcMs + 12 * kHourMs + static_cast<std::int64_t>(seq)));
  }
  REQUIRE(store->store_batch("gate-1", taps));
  CHECK(partition_rows(schema) == std::map<std::string, std::int64_t>{{"taps_20260101", 10}});
}

TEST_CASE("the service-day rule is the database's: a different one is refused", "[postgresql]") {
  PgTestSchema schema;
  {
    open_store(schema,
               {.service_day_rule = ServiceDayRule{"Europe/Paris", std::chrono::minutes(240)}});
  }
  SECTION("no rule given: the database's is adopted") {
    auto store = open_store(schema);
    CHECK(store->service_day_rule() == ServiceDayRule{"Europe/Paris", std::chrono::minutes(240)});
  }
  SECTION("another cut") {
    auto store = PostgresqlTapStore::open(
        schema.uri(),
        {.service_day_rule = ServiceDayRule{"Europe/Paris", std::chrono::minutes(270)}});
    REQUIRE_FALSE(store);
    CHECK(store.error().code == ErrorCode::kInvalidArgument);
  }
  SECTION("another time zone") {
    auto store = PostgresqlTapStore::open(
        schema.uri(), {.service_day_rule = ServiceDayRule{"UTC", std::chrono::minutes(240)}});
    REQUIRE_FALSE(store);
    CHECK(store.error().code == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("an unknown time zone or a cut outside the day is refused", "[postgresql]") {
  PgTestSchema schema;
  auto unknown = PostgresqlTapStore::open(
      schema.uri(),
      {.service_day_rule = ServiceDayRule{"Mars/Olympus_Mons", std::chrono::minutes(0)}});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == ErrorCode::kInvalidArgument);
  auto late = PostgresqlTapStore::open(
      schema.uri(), {.service_day_rule = ServiceDayRule{"UTC", std::chrono::minutes(24 * 60)}});
  REQUIRE_FALSE(late);
  CHECK(late.error().code == ErrorCode::kInvalidArgument);
  // Nothing was created.
  CHECK(schema.admin().query_int(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()") == 0);
}

TEST_CASE("a schema holding another program's tables of the same names is refused untouched",
          "[postgresql]") {
  PgTestSchema schema;
  schema.admin().exec("CREATE TABLE taps (id serial PRIMARY KEY, note text)");
  auto store = PostgresqlTapStore::open(schema.uri());
  REQUIRE_FALSE(store);
  CHECK(store.error().code == ErrorCode::kCorrupt);
  CHECK(schema.admin().query_int(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()") == 1);

  PgTestSchema other;
  other.admin().exec(
      "CREATE TABLE store_meta (id integer PRIMARY KEY, application text, schema_version integer,"
      " service_day_time_zone text, service_day_cut_minutes integer);"
      "INSERT INTO store_meta VALUES (1, 'payroll', 1, 'UTC', 0)");
  auto foreign = PostgresqlTapStore::open(other.uri());
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().code == ErrorCode::kCorrupt);
}

TEST_CASE("a malformed connection string or an unreachable server is an error value",
          "[postgresql]") {
  auto malformed = PostgresqlTapStore::open("postgresql://user:secret@host:notaport/db?bogus=1");
  REQUIRE_FALSE(malformed);
  CHECK(malformed.error().code == ErrorCode::kInvalidArgument);
  CHECK(malformed.error().message.find("secret") == std::string::npos);

  // Port 1 on loopback: nothing listens there.
  auto unreachable = PostgresqlTapStore::open("postgresql://faregate:secret@127.0.0.1:1/x",
                                              {.connect_timeout = std::chrono::seconds(2)});
  REQUIRE_FALSE(unreachable);
  CHECK(unreachable.error().code == ErrorCode::kUnavailable);
  CHECK(unreachable.error().message.find("secret") == std::string::npos);
}

TEST_CASE("a connection the server dropped is re-established by the next call", "[postgresql]") {
  PgTestSchema schema;
  auto store = open_store(schema);
  REQUIRE(store->store_batch("gate-1", make_taps("gate-1", 1, 5)));
  // What a server restart or an administrator's pg_terminate_backend does to the session (and
  // its staging table).
  const auto terminated = schema.admin().query_int(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" +
      schema.name() + "' AND pid <> pg_backend_pid()");
  REQUIRE(terminated == 1);
  // The backend may take a moment to go; the store must cope either way.
  auto outcome = store->store_batch("gate-1", make_taps("gate-1", 6, 10));
  REQUIRE(outcome);
  CHECK(outcome->inserted == 5);
  CHECK(outcome->stored_through_seq == 10);
  CHECK(store->tap_count().value() == 10);
}

TEST_CASE("nodes starting at once on an empty database create the schema exactly once",
          "[postgresql]") {
  PgTestSchema schema;
  constexpr int kNodes = 6;
  std::vector<std::unique_ptr<PostgresqlTapStore>> stores(kNodes);
  std::vector<std::string> errors(kNodes);
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i) {
    threads.emplace_back([&, i] {
      auto store = PostgresqlTapStore::open(schema.uri());
      if (!store) {
        errors[static_cast<std::size_t>(i)] = store.error().describe();
        return;
      }
      // Every node's first batch falls on the same new service day: the partition is created
      // once, whoever gets there first.
      const std::string device = "gate-" + std::to_string(i);
      auto stored = (*store)->store_batch(device, make_taps(device, 1, 20));
      if (!stored) errors[static_cast<std::size_t>(i)] = stored.error().describe();
      stores[static_cast<std::size_t>(i)] = std::move(*store);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) CHECK(error.empty());
  CHECK(schema.admin().query_int("SELECT count(*) FROM store_meta") == 1);
  CHECK(schema.admin().query_int("SELECT count(*) FROM taps") == kNodes * 20);
  CHECK(partition_rows(schema).size() == 1);
}

TEST_CASE("a store opened in a schema is not confused by another schema's tap store",
          "[postgresql]") {
  PgTestSchema first;
  PgTestSchema second;
  auto a = open_store(first);
  auto b = open_store(second);
  REQUIRE(a->store_batch("gate-1", make_taps("gate-1", 1, 3)));
  REQUIRE(b->store_batch("gate-1", make_taps("gate-1", 1, 7)));
  CHECK(a->tap_count().value() == 3);
  CHECK(b->tap_count().value() == 7);
}
