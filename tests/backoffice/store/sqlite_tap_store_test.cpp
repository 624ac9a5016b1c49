// What only the SQLite backend has to show: its file. The TapStore contract itself is checked
// for every backend in tap_store_contract_test.cpp.

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "backoffice/store/sqlite_tap_store.h"
#include "tests/backoffice/backoffice_test_support.h"

using faregate::ErrorCode;
using faregate::store::SqliteTapStore;
using faregate::store::SqliteTapStoreOptions;
using faregate::testing::make_taps;
using faregate::testing::ScratchDir;

namespace {

std::unique_ptr<SqliteTapStore> open_store(const std::filesystem::path& path,
                                           SqliteTapStoreOptions options = {}) {
  auto store = SqliteTapStore::open(path, std::move(options));
  if (!store) FAIL("open failed: " << store.error().describe());
  return std::move(*store);
}

// Runs SQL on the file through a second connection, as another program would.
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

