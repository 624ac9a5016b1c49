#pragma once
// The TapStore backends as the contract suite sees them. Each fixture owns fresh, empty storage
// (a scratch directory, a PostgreSQL schema of its own) and can open any number of stores on it,
// one after the other (reopen) or side by side (several ingest nodes). Besides, each knows how
// to break its storage behind the store's back, in that backend's own terms.

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "backoffice/store/postgresql_tap_store.h"
#include "backoffice/store/sqlite_tap_store.h"
#include "tests/backoffice/backoffice_test_support.h"
#include "tests/support/postgres_test_server.h"

namespace faregate::testing {

using UtcNow = std::function<std::int64_t()>;

class SqliteBackend {
 public:
  std::unique_ptr<store::TapStore> open(UtcNow utc_now_ms = {}) {
    auto store = store::SqliteTapStore::open(path(), {.utc_now_ms = std::move(utc_now_ms)});
    if (!store) FAIL("open failed: " << store.error().describe());
    return std::move(*store);
  }

  // Runs SQL on the file through a second connection, as an operator's tool (or an attacker with
  // disk access) would.
  void exec(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path().c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    const std::string text = message != nullptr ? message : "";
    sqlite3_free(message);
    sqlite3_close(db);
    INFO(text);
    REQUIRE(rc == SQLITE_OK);
  }

  // From now on, storing `seq` fails as a failing disk would, midway through its batch.
  void fail_writes_of_seq(std::uint64_t seq) {
    exec("CREATE TRIGGER injected_failure BEFORE INSERT ON taps WHEN NEW.seq = " +
         std::to_string(seq) + " BEGIN SELECT RAISE(ABORT, 'injected write failure'); END;");
  }
  void stop_failing_writes() { exec("DROP TRIGGER injected_failure"); }

  void corrupt_record(const std::string& device_id, std::uint64_t seq) {
    exec("UPDATE taps SET record = x'ffffffff' WHERE device_id = '" + device_id +
         "' AND seq = " + std::to_string(seq));
  }

  // Makes the storage look written by a newer program.
  void stamp_newer_schema() { exec("PRAGMA user_version = 99"); }
  Result<std::unique_ptr<store::TapStore>> try_open() {
    auto store = store::SqliteTapStore::open(path());
    if (!store) return std::unexpected(store.error());
    return std::unique_ptr<store::TapStore>(std::move(*store));
  }

 private:
  std::filesystem::path path() const { return dir_.path() / "taps.db"; }
  ScratchDir dir_;
};

class PostgresqlBackend {
 public:
  std::unique_ptr<store::TapStore> open(UtcNow utc_now_ms = {}) {
    auto store =
        store::PostgresqlTapStore::open(schema_.uri(), {.utc_now_ms = std::move(utc_now_ms)});
    if (!store) FAIL("open failed: " << store.error().describe());
    return std::move(*store);
  }

  void exec(const std::string& sql) { schema_.admin().exec(sql); }

  void fail_writes_of_seq(std::uint64_t seq) {
    exec(
        "CREATE FUNCTION injected_failure() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'injected write failure'; END $$;"
        "CREATE TRIGGER injected_failure BEFORE INSERT ON taps FOR EACH ROW WHEN (NEW.seq = " +
        std::to_string(seq) + ") EXECUTE FUNCTION injected_failure()");
  }
  void stop_failing_writes() {
    exec("DROP TRIGGER injected_failure ON taps; DROP FUNCTION injected_failure()");
  }

  void corrupt_record(const std::string& device_id, std::uint64_t seq) {
    exec("UPDATE taps SET record = '\\xffffffff'::bytea WHERE device_id = '" + device_id +
         "' AND seq = " + std::to_string(seq));
  }

  void stamp_newer_schema() { exec("UPDATE store_meta SET schema_version = 99"); }
  Result<std::unique_ptr<store::TapStore>> try_open() {
    auto store = store::PostgresqlTapStore::open(schema_.uri());
    if (!store) return std::unexpected(store.error());
    return std::unique_ptr<store::TapStore>(std::move(*store));
  }

  PgTestSchema& schema() { return schema_; }

 private:
  PgTestSchema schema_;
};

}  // namespace faregate::testing
