#include "firmware/journal/schema.h"

#include <sqlite3.h>

#include <array>
#include <string>

#include "firmware/journal/sqlite_util.h"

namespace faregate::journal::schema {

namespace {

struct Migration {
  int version;      // user_version once this step has run
  const char* sql;  // run inside the migration's write transaction
};

// Ordered, append-only. Each step takes the file from version-1 to version.
constexpr std::array kMigrations{
    Migration{1, R"sql(
      PRAGMA application_id = 1179077196;  -- 0x46474A4C "FGJL", schema::kApplicationId

      -- Exactly one row. last_seq is the highest seq ever issued; it lives here, not in
      -- MAX(taps.seq), so that pruning every tap cannot make a seq come back.
      CREATE TABLE journal_meta (
        id                INTEGER PRIMARY KEY CHECK (id = 1),
        device_id         TEXT    NOT NULL CHECK (length(device_id) > 0),
        last_seq          INTEGER NOT NULL CHECK (last_seq >= 0),
        synced_through    INTEGER NOT NULL CHECK (synced_through >= 0),
        deny_list_version INTEGER NOT NULL CHECK (deny_list_version >= 0),
        CHECK (synced_through <= last_seq)
      ) STRICT;

      -- record: a faregate.v1.TapRecord, deterministic serialization, device_id and seq stamped.
      -- tap_time_utc_ms repeats record.tap_time_utc_ms for prune's WHERE clause.
      CREATE TABLE taps (
        seq             INTEGER PRIMARY KEY CHECK (seq > 0),
        tap_time_utc_ms INTEGER NOT NULL,
        record          BLOB    NOT NULL
      ) STRICT;

      CREATE TABLE deny_list (
        card_token BLOB PRIMARY KEY NOT NULL CHECK (length(card_token) > 0)
      ) STRICT, WITHOUT ROWID;

      -- At most one row: the last faregate.v1.ConfigBundle applied, whole.
      CREATE TABLE config (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL CHECK (version >= 0),
        bundle  BLOB    NOT NULL
      ) STRICT;
    )sql"},
};

constexpr bool versions_are_consecutive() {
  for (std::size_t i = 0; i < kMigrations.size(); ++i) {
    if (kMigrations[i].version != static_cast<int>(i) + 1) return false;
  }
  return true;
}
static_assert(versions_are_consecutive(), "migration versions must be 1, 2, 3, ...");

Result<std::int64_t> single_int(sqlite3* db, const char* sql) {
  auto stmt = sqlite::Statement::prepare(db, sql);
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return make_error(ErrorCode::kCorrupt, std::string(sql) + " returned no row");
  return stmt->column_int(0);
}

}  // namespace

int current_version() { return kMigrations.back().version; }

Result<int> user_version(sqlite3* db) {
  auto v = single_int(db, "PRAGMA user_version");
  if (!v) return std::unexpected(v.error());
  return static_cast<int>(*v);  // a 32-bit field in the file header
}

Result<int> identify(sqlite3* db) {
  // The first read of the file: SQLITE_NOTADB here (mapped to kCorrupt) means it is not SQLite.
  auto app_id = single_int(db, "PRAGMA application_id");
  if (!app_id) return with_context(app_id.error(), "reading the file header");
  auto version = user_version(db);
  if (!version) return with_context(version.error(), "reading the file header");

  if (*app_id == 0 && *version == 0) {
    // Either a brand-new (empty) file or some other program's database.
    auto objects = single_int(db, "SELECT count(*) FROM sqlite_schema");
    if (!objects) return with_context(objects.error(), "reading the schema");
    if (*objects != 0) {
      return make_error(ErrorCode::kCorrupt,
                        "an SQLite database of another program, not a Faregate journal");
    }
    return 0;
  }
  if (*app_id != kApplicationId) {
    return make_error(ErrorCode::kCorrupt, "not a Faregate journal (application_id " +
                                               std::to_string(*app_id) + ")");
  }
  if (*version < 1) {
    // Migration 1 sets application_id and user_version in one transaction: never one alone.
    return make_error(ErrorCode::kCorrupt, "journal header has no schema version");
  }
  if (*version > current_version()) {
    return make_error(ErrorCode::kCorrupt,
                      "journal schema version " + std::to_string(*version) +
                          " is newer than this firmware reads (up to " +
                          std::to_string(current_version()) + ")");
  }
  return *version;
}

Status quick_check(sqlite3* db) {
  auto stmt = sqlite::Statement::prepare(db, "PRAGMA quick_check(5)");
  if (!stmt) return std::unexpected(stmt.error());
  std::string findings;
  for (;;) {
    auto row = stmt->step();
    if (!row) return with_context(row.error(), "integrity check");
    if (!*row) break;
    std::string_view line = stmt->column_text(0);
    if (line == "ok") return {};
    if (!findings.empty()) findings += "; ";
    findings += line;
  }
  return make_error(ErrorCode::kCorrupt, "integrity check failed: " + findings);
}

Status migrate(sqlite3* db) {
  auto from = user_version(db);
  if (!from) return std::unexpected(from.error());
  for (const Migration& step : kMigrations) {
    if (step.version <= *from) continue;
    std::string what = "migrating the journal to schema " + std::to_string(step.version);
    if (auto s = sqlite::exec(db, step.sql, what); !s) return s;
    std::string set_version = "PRAGMA user_version = " + std::to_string(step.version);
    if (auto s = sqlite::exec(db, set_version.c_str(), what); !s) return s;
  }
  return {};
}

}  // namespace faregate::journal::schema
