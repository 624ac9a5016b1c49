#pragma once
// Private to firmware/journal: recognizing a journal file and migrating its schema.
// docs/journal_schema.md describes every version; a new version appends one step to the list in
// schema.cpp and never edits an earlier one (files written by earlier firmware replay them).

#include <cstdint>

#include "common/error.h"

struct sqlite3;

namespace faregate::journal::schema {

// Written to the SQLite header (PRAGMA application_id) by the first migration: "FGJL".
inline constexpr std::int32_t kApplicationId = 0x46474A4C;

// The schema version this firmware writes (PRAGMA user_version of a migrated file).
int current_version();

// Decides, reading only, whether `db` is a new empty file (returns 0) or a journal this firmware
// can open (returns its schema version, 1..current_version()). Returns kCorrupt for anything else:
// not an SQLite file, an SQLite file of another program, a journal of a newer schema.
Result<int> identify(sqlite3* db);

// PRAGMA quick_check; kCorrupt with SQLite's first findings if the file is damaged.
Status quick_check(sqlite3* db);

// Requires: an open write transaction. Re-reads user_version (another process may have migrated
// the file meanwhile) and runs every step above it, leaving user_version at current_version().
Status migrate(sqlite3* db);

// PRAGMA user_version.
Result<int> user_version(sqlite3* db);

}  // namespace faregate::journal::schema
