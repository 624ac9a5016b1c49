#include "backoffice/denylist/push_store.h"

#include <sqlite3.h>

#include <map>

namespace faregate::denylist {

namespace v1 = faregate::v1;

namespace {

// "FGPS": a Faregate push store; opening another SQLite file by mistake fails.
constexpr std::int32_t kApplicationId = 0x46475053;
constexpr std::int64_t kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  deny_list_version INTEGER NOT NULL,
  delta_base INTEGER NOT NULL,
  config_version INTEGER NOT NULL,
  config BLOB NOT NULL
);
INSERT INTO meta VALUES (1, 0, 0, 0, x'');
CREATE TABLE deny_list (card_token BLOB PRIMARY KEY) WITHOUT ROWID;
-- One row per token a change touched: added = 1 when the change listed it, 0 when it removed it.
CREATE TABLE deny_changes (
  version INTEGER NOT NULL,
  card_token BLOB NOT NULL,
  added INTEGER NOT NULL,
  PRIMARY KEY (version, card_token)
) WITHOUT ROWID;
)sql";

Error sqlite_error(sqlite3* db, int rc, std::string_view doing) {
  const int primary = rc & 0xFF;
  const ErrorCode code = primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ? ErrorCode::kCorrupt
                                                                               : ErrorCode::kIo;
  return Error{code, std::string(doing) + ": " +
                         (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc))};
}

Status exec(sqlite3* db, const char* sql, std::string_view doing) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db, rc, doing));
  return {};
}

class Statement {
 public:
  static Result<Statement> prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db, rc, "preparing a statement"));
    return Statement(db, raw);
  }
  Statement(Statement&& other) noexcept
      : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  void bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void bind(int index, ByteView blob) {
    // A non-null pointer even for an empty blob: SQLite binds NULL for a null pointer.
    static const std::uint8_t kEmpty = 0;
    sqlite3_bind_blob(stmt_, index, blob.empty() ? &kEmpty : blob.data(),
                      static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  }
  Result<bool> step(std::string_view doing) {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return std::unexpected(sqlite_error(db_, rc, doing));
  }
  Status run(std::string_view doing) {
    auto stepped = step(doing);
    if (!stepped) return std::unexpected(stepped.error());
    sqlite3_reset(stmt_);
    return {};
  }
  std::int64_t column_int(int column) { return sqlite3_column_int64(stmt_, column); }
  Bytes column_blob(int column) {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
    const int size = sqlite3_column_bytes(stmt_, column);
    return data == nullptr ? Bytes{} : Bytes(data, data + size);
  }
  int changes() { return sqlite3_changes(db_); }

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

Result<std::int64_t> query_int(sqlite3* db, const char* sql) {
  auto statement = Statement::prepare(db, sql);
  if (!statement) return std::unexpected(statement.error());
  auto row = statement->step(sql);
  if (!row) return std::unexpected(row.error());
  if (!*row) return make_error(ErrorCode::kInternal, std::string(sql) + ": no row");
  return statement->column_int(0);
}

// Rolls back unless committed.
class Transaction {
 public:
  static Result<Transaction> begin(sqlite3* db) {
    if (auto s = exec(db, "BEGIN IMMEDIATE", "starting a transaction"); !s) {
      return std::unexpected(s.error());
    }
    return Transaction(db);
  }
  Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction() {
    if (db_ != nullptr) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Status commit() {
    auto s = exec(db_, "COMMIT", "committing");
    if (s) db_ = nullptr;
    return s;
  }

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

Status check_tokens(std::span<const Bytes> tokens) {
  for (const auto& token : tokens) {
    if (token.size() != kCardTokenBytes) {
      return make_error(ErrorCode::kInvalidArgument,
                        "a card token has " + std::to_string(kCardTokenBytes) + " bytes, not " +
                            std::to_string(token.size()));
    }
  }
  return {};
}

std::string as_string(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

}  // namespace

PushStore::PushStore(sqlite3* db, PushStoreOptions options) : db_(db), options_(options) {}

PushStore::~PushStore() { sqlite3_close_v2(db_); }

Result<std::unique_ptr<PushStore>> PushStore::open(const std::filesystem::path& path,
                                                   PushStoreOptions options) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                                         SQLITE_OPEN_FULLMUTEX,
                                 nullptr);
  std::unique_ptr<PushStore> store(new PushStore(raw, options));
  const std::string what = "opening push store " + path.string();
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(raw, rc, what));
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_extended_result_codes(raw, 1);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    if (auto s = exec(raw, pragma, what); !s) return std::unexpected(s.error());
  }
  auto version = query_int(raw, "PRAGMA user_version");
  if (!version) return with_context(version.error(), what);
  if (*version == 0) {
    auto objects = query_int(raw, "SELECT count(*) FROM sqlite_schema");
    if (!objects) return with_context(objects.error(), what);
    if (*objects != 0) {
      return make_error(ErrorCode::kCorrupt, what + ": the file holds other tables");
    }
    auto tx = Transaction::begin(raw);
    if (!tx) return with_context(tx.error(), what);
    if (auto s = exec(raw, kSchema, what); !s) return std::unexpected(s.error());
    const std::string stamp = "PRAGMA application_id=" + std::to_string(kApplicationId) +
                              "; PRAGMA user_version=" + std::to_string(kSchemaVersion);
    if (auto s = exec(raw, stamp.c_str(), what); !s) return std::unexpected(s.error());
    if (auto s = tx->commit(); !s) return with_context(s.error(), what);
  } else {
    auto application = query_int(raw, "PRAGMA application_id");
    if (!application) return with_context(application.error(), what);
    if (*application != kApplicationId || *version > kSchemaVersion) {
      return make_error(ErrorCode::kCorrupt,
                        what + ": not a push store of a schema this program knows");
    }
  }
  return store;
}

Result<PushStore::Meta> PushStore::read_meta() {
  auto statement = Statement::prepare(
      db_, "SELECT deny_list_version, delta_base, config_version FROM meta WHERE id = 1");
  if (!statement) return std::unexpected(statement.error());
  auto row = statement->step("reading the push store's versions");
  if (!row) return std::unexpected(row.error());
  if (!*row) return make_error(ErrorCode::kCorrupt, "the push store has no version row");
  return Meta{static_cast<std::uint64_t>(statement->column_int(0)),
              static_cast<std::uint64_t>(statement->column_int(1)),
              static_cast<std::uint64_t>(statement->column_int(2))};
}

Result<std::uint64_t> PushStore::change_deny_list(std::span<const Bytes> added,
                                                  std::span<const Bytes> removed) {
  if (auto s = check_tokens(added); !s) return std::unexpected(s.error());
  if (auto s = check_tokens(removed); !s) return std::unexpected(s.error());
  std::lock_guard lock(mutex_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  auto meta = read_meta();
  if (!meta) return std::unexpected(meta.error());
  const std::uint64_t version = meta->deny_list_version + 1;

  // Net effect per token: removals first, then additions (a token in both ends up denied).
  std::map<Bytes, bool> effect;
  for (const auto& token : removed) effect[token] = false;
  for (const auto& token : added) effect[token] = true;
  auto insert = Statement::prepare(db_, "INSERT OR IGNORE INTO deny_list VALUES (?1)");
  auto erase = Statement::prepare(db_, "DELETE FROM deny_list WHERE card_token = ?1");
  auto record = Statement::prepare(db_, "INSERT INTO deny_changes VALUES (?1, ?2, ?3)");
  if (!insert || !erase || !record) {
    return std::unexpected(!insert ? insert.error() : !erase ? erase.error() : record.error());
  }
  bool changed = false;
  for (const auto& [token, add] : effect) {
    Statement& statement = add ? *insert : *erase;
    statement.bind(1, token);
    if (auto s = statement.run("changing the deny list"); !s) return std::unexpected(s.error());
    if (statement.changes() == 0) continue;  // already listed / not listed: no change
    changed = true;
    record->bind(1, static_cast<std::int64_t>(version));
    record->bind(2, token);
    record->bind(3, add ? 1 : 0);
    if (auto s = record->run("recording a deny list change"); !s) return std::unexpected(s.error());
  }
  if (!changed) return meta->deny_list_version;

  std::uint64_t delta_base = meta->delta_base;
  if (version - delta_base > options_.max_history_versions) {
    delta_base = version - options_.max_history_versions;
    auto forget = Statement::prepare(db_, "DELETE FROM deny_changes WHERE version <= ?1");
    if (!forget) return std::unexpected(forget.error());
    forget->bind(1, static_cast<std::int64_t>(delta_base));
    if (auto s = forget->run("dropping old deny list history"); !s) return std::unexpected(s.error());
  }
  auto update = Statement::prepare(
      db_, "UPDATE meta SET deny_list_version = ?1, delta_base = ?2 WHERE id = 1");
  if (!update) return std::unexpected(update.error());
  update->bind(1, static_cast<std::int64_t>(version));
  update->bind(2, static_cast<std::int64_t>(delta_base));
  if (auto s = update->run("advancing the deny list version"); !s) return std::unexpected(s.error());
  if (auto s = tx->commit(); !s) return std::unexpected(s.error());
  return version;
}

Result<std::uint64_t> PushStore::deny_list_version() {
  std::lock_guard lock(mutex_);
  auto meta = read_meta();
  if (!meta) return std::unexpected(meta.error());
  return meta->deny_list_version;
}

Result<std::uint64_t> PushStore::delta_base() {
  std::lock_guard lock(mutex_);
  auto meta = read_meta();
  if (!meta) return std::unexpected(meta.error());
  return meta->delta_base;
}

Result<std::vector<Bytes>> PushStore::deny_list() {
  std::lock_guard lock(mutex_);
  auto statement = Statement::prepare(db_, "SELECT card_token FROM deny_list ORDER BY card_token");
  if (!statement) return std::unexpected(statement.error());
  std::vector<Bytes> tokens;
  for (;;) {
    auto row = statement->step("reading the deny list");
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    tokens.push_back(statement->column_blob(0));
  }
  return tokens;
}

Result<v1::DenyListDelta> PushStore::full_list(std::uint64_t version) {
  auto count = query_int(db_, "SELECT count(*) FROM deny_list");
  if (!count) return std::unexpected(count.error());
  if (static_cast<std::uint64_t>(*count) > options_.max_push_tokens) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the deny list holds " + std::to_string(*count) +
                          " tokens, more than one push may carry (" +
                          std::to_string(options_.max_push_tokens) + ")");
  }
  v1::DenyListDelta delta;
  delta.set_full(true);
  delta.set_to_version(version);
  auto statement = Statement::prepare(db_, "SELECT card_token FROM deny_list ORDER BY card_token");
  if (!statement) return std::unexpected(statement.error());
  for (;;) {
    auto row = statement->step("reading the deny list");
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    delta.add_added(as_string(statement->column_blob(0)));
  }
  return delta;
}

Result<std::optional<v1::DenyListDelta>> PushStore::deny_list_update(std::uint64_t device_version) {
  std::lock_guard lock(mutex_);
  // One read transaction, so that the version and the rows agree.
  if (auto s = exec(db_, "BEGIN", "reading the deny list"); !s) return std::unexpected(s.error());
  struct EndRead {
    sqlite3* db;
    ~EndRead() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } end_read{db_};
  auto meta = read_meta();
  if (!meta) return std::unexpected(meta.error());
  const std::uint64_t current = meta->deny_list_version;
  if (device_version == current) return std::optional<v1::DenyListDelta>();
  if (device_version > current || device_version < meta->delta_base) {
    auto full = full_list(current);
    if (!full) return std::unexpected(full.error());
    return std::optional<v1::DenyListDelta>(std::move(*full));
  }
  auto statement = Statement::prepare(
      db_, "SELECT card_token, added FROM deny_changes WHERE version > ?1 ORDER BY version");
  if (!statement) return std::unexpected(statement.error());
  statement->bind(1, static_cast<std::int64_t>(device_version));
  std::map<Bytes, bool> effect;  // the last change of each token wins
  for (;;) {
    auto row = statement->step("reading deny list changes");
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    effect[statement->column_blob(0)] = statement->column_int(1) != 0;
  }
  if (effect.size() > options_.max_push_tokens) {
    // Too many changes for one frame: the full list may still fit.
    auto full = full_list(current);
    if (!full) return std::unexpected(full.error());
    return std::optional<v1::DenyListDelta>(std::move(*full));
  }
  v1::DenyListDelta delta;
  delta.set_from_version(device_version);
  delta.set_to_version(current);
  for (const auto& [token, added] : effect) {
    if (added) {
      delta.add_added(as_string(token));
    } else {
      delta.add_removed(as_string(token));
    }
  }
  return std::optional<v1::DenyListDelta>(std::move(delta));
}

Result<std::uint64_t> PushStore::set_config(v1::ConfigBundle bundle) {
  std::lock_guard lock(mutex_);
  auto tx = Transaction::begin(db_);
  if (!tx) return std::unexpected(tx.error());
  auto meta = read_meta();
  if (!meta) return std::unexpected(meta.error());
  const std::uint64_t version = meta->config_version + 1;
  bundle.set_version(version);
  std::string bytes;
  if (!bundle.SerializeToString(&bytes)) {
    return make_error(ErrorCode::kInternal, "cannot serialize a config bundle");
  }
  auto update = Statement::prepare(db_, "UPDATE meta SET config_version = ?1, config = ?2 WHERE id = 1");
  if (!update) return std::unexpected(update.error());
  update->bind(1, static_cast<std::int64_t>(version));
  update->bind(2, as_bytes(bytes));
  if (auto s = update->run("storing the config bundle"); !s) return std::unexpected(s.error());
  if (auto s = tx->commit(); !s) return std::unexpected(s.error());
  return version;
}

Result<v1::ConfigBundle> PushStore::config() {
  std::lock_guard lock(mutex_);
  auto statement = Statement::prepare(db_, "SELECT config FROM meta WHERE id = 1");
  if (!statement) return std::unexpected(statement.error());
  auto row = statement->step("reading the config bundle");
  if (!row) return std::unexpected(row.error());
  if (!*row) return make_error(ErrorCode::kCorrupt, "the push store has no version row");
  const Bytes bytes = statement->column_blob(0);
  v1::ConfigBundle bundle;
  if (!bundle.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return make_error(ErrorCode::kCorrupt, "the stored config bundle does not parse");
  }
  return bundle;
}

Result<std::optional<v1::ConfigBundle>> PushStore::config_update(std::uint64_t device_version) {
  auto bundle = config();
  if (!bundle) return std::unexpected(bundle.error());
  if (bundle->version() <= device_version) return std::optional<v1::ConfigBundle>();
  return std::optional<v1::ConfigBundle>(std::move(*bundle));
}

}  // namespace faregate::denylist
