#include "firmware/journal/sqlite_util.h"

#include <climits>
#include <cstdint>
#include <string>
#include <utility>

namespace faregate::journal::sqlite {

namespace {

// SQLITE_TRANSIENT spelled without its C cast: SQLite copies the bound value before returning,
// so callers may pass views of temporaries.
const sqlite3_destructor_type kCopyValue =
    reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));

ErrorCode code_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CONSTRAINT:
      return ErrorCode::kCorrupt;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorCode::kTimeout;
    default:
      return ErrorCode::kIo;
  }
}

}  // namespace

Error error_from(sqlite3* db, int rc, std::string_view what) {
  std::string message(what);
  message += ": ";
  // sqlite3_errmsg describes the most recent failure on this connection, which is the one being
  // reported only when the connection itself failed; the result code's text is always right.
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : nullptr;
  const char* generic = sqlite3_errstr(rc);
  if (detail != nullptr && std::string_view(detail) != generic) {
    message += detail;
    message += " (";
    message += generic;
    message += ")";
  } else {
    message += generic;
  }
  return Error{code_for(rc), std::move(message)};
}

Status exec(sqlite3* db, const char* sql, std::string_view what) {
  char* raw_message = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &raw_message);
  sqlite3_free(raw_message);  // error_from reads the same text from the connection
  if (rc != SQLITE_OK) return std::unexpected(error_from(db, rc, what));
  return {};
}

Result<Statement> Statement::prepare(sqlite3* db, std::string_view sql) {
  if (sql.size() > static_cast<std::size_t>(INT_MAX)) {
    return make_error(ErrorCode::kInternal, "SQL text too long");
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return std::unexpected(error_from(db, rc, "preparing \"" + std::string(sql) + "\""));
  }
  return Statement(db, stmt);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }  // accepts nullptr

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}

Statement& Statement::bind_int(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::bind_text(int index, std::string_view text) {
  int rc = text.size() > static_cast<std::size_t>(INT_MAX)
               ? SQLITE_TOOBIG
               : sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                   kCopyValue);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Statement& Statement::bind_blob(int index, ByteView blob) {
  // sqlite3_bind_blob with a null pointer binds NULL, not an empty blob; the NOT NULL columns
  // must get a zero-length blob instead.
  int rc = blob.size() > static_cast<std::size_t>(INT_MAX)
               ? SQLITE_TOOBIG
               : (blob.empty() ? sqlite3_bind_zeroblob(stmt_, index, 0)
                               : sqlite3_bind_blob(stmt_, index, blob.data(),
                                                   static_cast<int>(blob.size()), kCopyValue));
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) {
    return std::unexpected(
        error_from(db_, bind_rc_, std::string("binding ") + sqlite3_sql(stmt_)));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return std::unexpected(error_from(db_, rc, sqlite3_sql(stmt_)));
}

Status Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return {};
  }
}

void Statement::reset() {
  // sqlite3_reset repeats the last step's error code, which step() already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
}

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::column_int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

ByteView Statement::column_blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);  // after column_blob, as SQLite requires
  if (data == nullptr || size <= 0) return {};
  return {static_cast<const std::uint8_t*>(data), static_cast<std::size_t>(size)};
}

std::string_view Statement::column_text(int column) const {
  const unsigned char* data = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(size)};
}

Result<Transaction> Transaction::immediate(sqlite3* db) {
  if (auto s = exec(db, "BEGIN IMMEDIATE", "starting a write transaction"); !s) {
    return std::unexpected(s.error());
  }
  return Transaction(db);
}

Result<Transaction> Transaction::deferred(sqlite3* db) {
  if (auto s = exec(db, "BEGIN DEFERRED", "starting a read transaction"); !s) {
    return std::unexpected(s.error());
  }
  return Transaction(db);
}

Transaction::~Transaction() {
  // After some failures (an I/O error during COMMIT, for one) SQLite has already rolled back;
  // autocommit mode tells whether a transaction is still open.
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Status Transaction::commit() {
  if (db_ == nullptr) return make_error(ErrorCode::kInternal, "transaction already finished");
  if (auto s = exec(db_, "COMMIT", "committing"); !s) return s;  // destructor rolls back
  db_ = nullptr;
  return {};
}

}  // namespace faregate::journal::sqlite
