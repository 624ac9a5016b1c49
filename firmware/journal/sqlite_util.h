#pragma once
// Private to firmware/journal: RAII owners and error mapping over the SQLite C API. Nothing here
// throws; every failure comes back as an Error.

#include <sqlite3.h>

#include <cstdint>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"

namespace faregate::journal::sqlite {

// Maps an SQLite result code to an Error whose message starts with `what`:
// SQLITE_CORRUPT / SQLITE_NOTADB -> kCorrupt, SQLITE_BUSY / SQLITE_LOCKED -> kTimeout (the busy
// timeout ran out), SQLITE_CONSTRAINT -> kCorrupt (our own statements only break a constraint when
// the stored state contradicts itself), anything else -> kIo.
Error error_from(sqlite3* db, int rc, std::string_view what);

// Runs SQL text that may hold several statements and whose rows, if any, are not needed.
Status exec(sqlite3* db, const char* sql, std::string_view what);

// One prepared statement, finalized on destruction.
class Statement {
 public:
  static Result<Statement> prepare(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  // Parameters are numbered from 1. A failed bind is kept and reported by the next step(), so
  // callers can bind several values without checking each one.
  Statement& bind_int(int index, std::int64_t value);
  Statement& bind_text(int index, std::string_view text);
  Statement& bind_blob(int index, ByteView blob);

  // Returns true when a row is ready to read, false when the statement has finished.
  Result<bool> step();
  // Steps to the end; for statements that return no rows.
  Status run();
  // Makes the statement ready to run again; bindings are cleared.
  void reset();

  // Valid after step() returned true. Blob and text views live until the next step/reset.
  bool column_is_null(int column) const;
  std::int64_t column_int(int column) const;
  ByteView column_blob(int column) const;
  std::string_view column_text(int column) const;

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

// A transaction that rolls back on destruction unless commit() succeeded.
class Transaction {
 public:
  // BEGIN IMMEDIATE: takes the write lock up front, so a writer waits (busy_timeout) at the start
  // instead of failing half-way when a reader would have to upgrade its lock.
  static Result<Transaction> immediate(sqlite3* db);
  // BEGIN DEFERRED: a consistent read snapshot across several statements.
  static Result<Transaction> deferred(sqlite3* db);
  ~Transaction();
  Transaction(Transaction&& other) noexcept;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;

  // Returns only once SQLite reports the commit done (with synchronous=FULL: synced to disk).
  Status commit();

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}

  sqlite3* db_;  // nullptr once committed or moved from
};

}  // namespace faregate::journal::sqlite
