#include "backoffice/store/sqlite_tap_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "backoffice/store/tap_record_bytes.h"

namespace faregate::store {

namespace v1 = faregate::v1;

namespace {

// "FGBS": marks the file as a Faregate back-office store, so that opening some other SQLite file
// by mistake fails instead of adding our tables to it.
constexpr std::int32_t kApplicationId = 0x46474253;
using detail::kMaxSeq;
using detail::parse_record;

// kMigrations[i] takes the schema from user_version i to i + 1. Append only; never edit one that
// shipped.
constexpr std::array<std::string_view, 1> kMigrations = {
    R"sql(
CREATE TABLE taps (
  device_id TEXT NOT NULL,
  seq INTEGER NOT NULL CHECK (seq >= 1),
  tap_time_utc_ms INTEGER NOT NULL,
  card_token BLOB NOT NULL,
  record BLOB NOT NULL,
  PRIMARY KEY (device_id, seq)
);
CREATE TABLE conflicts (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  held_record BLOB NOT NULL,
  received_record BLOB NOT NULL,
  received_at_utc_ms INTEGER NOT NULL
);
-- A validator resending the same contradicting version (lost ack) adds no second row.
CREATE UNIQUE INDEX conflicts_by_version ON conflicts (device_id, seq, received_record);
CREATE TABLE devices (
  device_id TEXT PRIMARY KEY,
  stored_through_seq INTEGER NOT NULL,
  max_seq INTEGER NOT NULL,
  tap_count INTEGER NOT NULL
);
)sql",
};
constexpr std::int64_t kSchemaVersion = static_cast<std::int64_t>(kMigrations.size());

ErrorCode code_for(int rc) {
  switch (rc & 0xFF) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return ErrorCode::kCorrupt;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return ErrorCode::kUnavailable;
    default: return ErrorCode::kIo;
  }
}

Error sqlite_error(sqlite3* db, int rc, std::string_view doing) {
  std::string message(doing);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error{code_for(rc), std::move(message)};
}

struct DbCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};

// SQLite binds a NULL for a null pointer even with length 0; an empty token or string must stay
// an empty value.
const char* non_null(const char* data) { return data != nullptr ? data : ""; }

// One prepared statement. Bind errors are remembered and reported by the next step().
class Statement {
 public:
  Statement() = default;

  static Result<Statement> prepare(sqlite3* db, std::string_view sql) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    Statement statement;
    statement.stmt_.reset(raw);
    statement.db_ = db;
    if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db, rc, "preparing a statement"));
    return statement;
  }

  void bind_int(int index, std::int64_t value) {
    note(sqlite3_bind_int64(stmt_.get(), index, value));
  }
  void bind_text(int index, std::string_view value) {
    note(sqlite3_bind_text(stmt_.get(), index, non_null(value.data()),
                           static_cast<int>(value.size()), SQLITE_TRANSIENT));
  }
  void bind_blob(int index, std::string_view value) {
    note(sqlite3_bind_blob(stmt_.get(), index, non_null(value.data()),
                           static_cast<int>(value.size()), SQLITE_TRANSIENT));
  }

  // true: a row is ready; false: the statement is done.
  Result<bool> step(std::string_view doing) {
    if (bind_rc_ != SQLITE_OK) return std::unexpected(sqlite_error(db_, bind_rc_, doing));
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return std::unexpected(sqlite_error(db_, rc, doing));
  }
  // Runs a statement that returns no rows.
  Status run(std::string_view doing) {
    auto stepped = step(doing);
    if (!stepped) return std::unexpected(stepped.error());
    return {};
  }

  std::int64_t column_int(int column) const { return sqlite3_column_int64(stmt_.get(), column); }
  std::string_view column_text(int column) const {
    const auto* data = sqlite3_column_text(stmt_.get(), column);
    const int size = sqlite3_column_bytes(stmt_.get(), column);
    if (data == nullptr) return {};
    return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(size)};
  }
  std::string_view column_blob(int column) const {
    const void* data = sqlite3_column_blob(stmt_.get(), column);
    const int size = sqlite3_column_bytes(stmt_.get(), column);
    if (data == nullptr) return {};
    return {static_cast<const char*>(data), static_cast<std::size_t>(size)};
  }

  void reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    bind_rc_ = SQLITE_OK;
  }

 private:
  void note(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  std::unique_ptr<sqlite3_stmt, StmtFinalizer> stmt_;
  sqlite3* db_ = nullptr;
  int bind_rc_ = SQLITE_OK;
};

// Resets a reused statement when a use of it ends: a statement left mid-step would keep a read
// snapshot open and hold up checkpoints.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& statement) : statement_(statement) {}
  ~ResetOnExit() { statement_.reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& statement_;
};

Status exec(sqlite3* db, const std::string& sql, std::string_view doing) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  std::string text =
      std::string(doing) + ": " + (message != nullptr ? message : sqlite3_errstr(rc));
  sqlite3_free(message);
  return std::unexpected(Error{code_for(rc), std::move(text)});
}

Result<std::int64_t> query_int(sqlite3* db, std::string_view sql) {
  auto statement = Statement::prepare(db, sql);
  if (!statement) return std::unexpected(statement.error());
  auto row = statement->step(sql);
  if (!row) return std::unexpected(row.error());
  if (!*row) return make_error(ErrorCode::kInternal, std::string(sql) + " returned no row");
  return statement->column_int(0);
}

// Rolls back unless committed, so that every early return leaves nothing of the batch behind.
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
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
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

Status configure(sqlite3* db) {
  auto mode = Statement::prepare(db, "PRAGMA journal_mode=WAL");
  if (!mode) return std::unexpected(mode.error());
  auto row = mode->step("enabling WAL");
  if (!row) return std::unexpected(row.error());
  if (!*row || mode->column_text(0) != "wal") {
    return make_error(ErrorCode::kIo, "the file system does not support SQLite WAL mode");
  }
  mode->reset();
  // FULL: a commit reaches the disk before store_batch returns, which is what lets the ack
  // promise durability to the validator.
  return exec(db, "PRAGMA synchronous=FULL", "setting synchronous=FULL");
}

Status check_identity(sqlite3* db, std::int64_t version) {
  if (version == 0) {
    auto objects = query_int(db, "SELECT count(*) FROM sqlite_schema");
    if (!objects) return std::unexpected(objects.error());
    if (*objects != 0) {
      return make_error(ErrorCode::kCorrupt, "the file holds other tables: not a tap store");
    }
    return {};
  }
  auto application = query_int(db, "PRAGMA application_id");
  if (!application) return std::unexpected(application.error());
  if (*application != kApplicationId) {
    return make_error(ErrorCode::kCorrupt, "the file is not a tap store (application_id " +
                                               std::to_string(*application) + ")");
  }
  if (version > kSchemaVersion) {
    return make_error(ErrorCode::kCorrupt,
                      "schema version " + std::to_string(version) +
                          " is newer than this program supports (" +
                          std::to_string(kSchemaVersion) + ")");
  }
  return {};
}

Status migrate(sqlite3* db) {
  auto version = query_int(db, "PRAGMA user_version");
  if (!version) return std::unexpected(version.error());
  if (auto s = check_identity(db, *version); !s) return s;
  while (*version < kSchemaVersion) {
    auto tx = Transaction::begin(db);
    if (!tx) return std::unexpected(tx.error());
    // Read again under the write lock: another process may have migrated meanwhile.
    version = query_int(db, "PRAGMA user_version");
    if (!version) return std::unexpected(version.error());
    if (auto s = check_identity(db, *version); !s) return s;
    if (*version < kSchemaVersion) {
      const auto step = static_cast<std::size_t>(*version);
      const std::string doing = "migrating schema to version " + std::to_string(*version + 1);
      if (auto s = exec(db, std::string(kMigrations[step]), doing); !s) return s;
      const std::string stamp = "PRAGMA user_version = " + std::to_string(*version + 1) +
                                "; PRAGMA application_id = " + std::to_string(kApplicationId);
      if (auto s = exec(db, stamp, doing); !s) return s;
      ++*version;
    }
    if (auto s = tx->commit(); !s) return s;
  }
  return {};
}

struct DeviceRow {
  std::uint64_t stored_through = 0;
  std::uint64_t max_seq = 0;
  std::uint64_t tap_count = 0;
};

}  // namespace

struct SqliteTapStore::Impl {
  DbHandle db;
  SqliteTapStoreOptions options;
  Statement insert_tap;
  Statement select_record;
  Statement insert_conflict;
  Statement select_device;
  Statement upsert_device;
  Statement scan_seqs;
  Statement select_taps;

  Status prepare_all() {
    struct Entry {
      Statement* statement;
      std::string_view sql;
    };
    const Entry entries[] = {
        {&insert_tap,
         "INSERT INTO taps (device_id, seq, tap_time_utc_ms, card_token, record) "
         "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (device_id, seq) DO NOTHING"},
        {&select_record, "SELECT record FROM taps WHERE device_id = ?1 AND seq = ?2"},
        {&insert_conflict,
         "INSERT INTO conflicts (device_id, seq, held_record, received_record, "
         "received_at_utc_ms) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING"},
        {&select_device,
         "SELECT stored_through_seq, max_seq, tap_count FROM devices WHERE device_id = ?1"},
        {&upsert_device,
         "INSERT INTO devices (device_id, stored_through_seq, max_seq, tap_count) "
         "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (device_id) DO UPDATE SET "
         "stored_through_seq = excluded.stored_through_seq, max_seq = excluded.max_seq, "
         "tap_count = excluded.tap_count"},
        {&scan_seqs, "SELECT seq FROM taps WHERE device_id = ?1 AND seq > ?2 ORDER BY seq"},
        {&select_taps,
         "SELECT seq, record FROM taps WHERE device_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq"},
    };
    for (const auto& entry : entries) {
      auto statement = Statement::prepare(db.get(), entry.sql);
      if (!statement) return std::unexpected(statement.error());
      *entry.statement = std::move(*statement);
    }
    return {};
  }

  std::int64_t now_utc_ms() const {
    if (options.utc_now_ms) return options.utc_now_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  Result<DeviceRow> read_device(std::string_view device_id) {
    ResetOnExit reset(select_device);
    select_device.bind_text(1, device_id);
    auto row = select_device.step("reading the device watermark");
    if (!row) return std::unexpected(row.error());
    DeviceRow device;
    if (*row) {
      device.stored_through = static_cast<std::uint64_t>(select_device.column_int(0));
      device.max_seq = static_cast<std::uint64_t>(select_device.column_int(1));
      device.tap_count = static_cast<std::uint64_t>(select_device.column_int(2));
    }
    return device;
  }

  // Returns the new watermark: moves forward from `through` while the next seq is held.
  Result<std::uint64_t> advance(std::string_view device_id, std::uint64_t through) {
    ResetOnExit reset(scan_seqs);
    scan_seqs.bind_text(1, device_id);
    scan_seqs.bind_int(2, static_cast<std::int64_t>(through));
    for (;;) {
      auto row = scan_seqs.step("advancing the watermark");
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      if (static_cast<std::uint64_t>(scan_seqs.column_int(0)) != through + 1) break;
      ++through;
    }
    return through;
  }

  Result<BatchOutcome> store_batch(std::string_view device_id,
                                   std::span<const v1::TapRecord> taps,
                                   const std::vector<std::string>& records) {
    auto tx = Transaction::begin(db.get());
    if (!tx) return std::unexpected(tx.error());
    auto device = read_device(device_id);
    if (!device) return std::unexpected(device.error());

    BatchOutcome outcome;
    bool next_arrived = false;
    std::optional<std::int64_t> received_at;
    for (std::size_t i = 0; i < taps.size(); ++i) {
      const v1::TapRecord& tap = taps[i];
      const auto seq = static_cast<std::int64_t>(tap.seq());
      {
        ResetOnExit reset(insert_tap);
        insert_tap.bind_text(1, device_id);
        insert_tap.bind_int(2, seq);
        insert_tap.bind_int(3, tap.tap_time_utc_ms());
        insert_tap.bind_blob(4, tap.card_token());
        insert_tap.bind_blob(5, records[i]);
        if (auto s = insert_tap.run("storing a tap"); !s) return std::unexpected(s.error());
      }
      if (sqlite3_changes(db.get()) == 1) {
        ++outcome.inserted;
        device->max_seq = std::max(device->max_seq, tap.seq());
        if (tap.seq() == device->stored_through + 1) next_arrived = true;
        continue;
      }

      std::string held;
      {
        ResetOnExit reset(select_record);
        select_record.bind_text(1, device_id);
        select_record.bind_int(2, seq);
        auto row = select_record.step("reading a held tap");
        if (!row) return std::unexpected(row.error());
        if (!*row) return make_error(ErrorCode::kInternal, "tap vanished during its transaction");
        if (select_record.column_blob(0) == records[i]) {
          ++outcome.duplicates;
          continue;
        }
        held = std::string(select_record.column_blob(0));
      }
      ++outcome.conflicts;
      if (!received_at) received_at = now_utc_ms();
      ResetOnExit reset(insert_conflict);
      insert_conflict.bind_text(1, device_id);
      insert_conflict.bind_int(2, seq);
      insert_conflict.bind_blob(3, held);
      insert_conflict.bind_blob(4, records[i]);
      insert_conflict.bind_int(5, *received_at);
      if (auto s = insert_conflict.run("recording a conflict"); !s) {
        return std::unexpected(s.error());
      }
    }

    // The watermark can only move if its next seq arrived now: every seq above it that was held
    // before was already scanned past when it arrived.
    if (next_arrived) {
      auto through = advance(device_id, device->stored_through);
      if (!through) return std::unexpected(through.error());
      device->stored_through = *through;
    }
    if (outcome.inserted > 0) {
      device->tap_count += outcome.inserted;
      ResetOnExit reset(upsert_device);
      upsert_device.bind_text(1, device_id);
      upsert_device.bind_int(2, static_cast<std::int64_t>(device->stored_through));
      upsert_device.bind_int(3, static_cast<std::int64_t>(device->max_seq));
      upsert_device.bind_int(4, static_cast<std::int64_t>(device->tap_count));
      if (auto s = upsert_device.run("updating the device watermark"); !s) {
        return std::unexpected(s.error());
      }
    }
    if (auto s = tx->commit(); !s) return std::unexpected(s.error());
    outcome.stored_through_seq = device->stored_through;
    return outcome;
  }
};

SqliteTapStore::SqliteTapStore(std::filesystem::path path, std::unique_ptr<Impl> impl)
    : path_(std::move(path)), impl_(std::move(impl)) {}

SqliteTapStore::~SqliteTapStore() = default;

Result<std::unique_ptr<SqliteTapStore>> SqliteTapStore::open(const std::filesystem::path& path,
                                                             SqliteTapStoreOptions options) {
  const std::string context = "opening tap store " + path.string();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(raw, rc, context));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
  impl->options = std::move(options);

  if (auto s = configure(raw); !s) return with_context(s.error(), context);
  if (auto s = migrate(raw); !s) return with_context(s.error(), context);
  if (auto s = impl->prepare_all(); !s) return with_context(s.error(), context);
  return std::unique_ptr<SqliteTapStore>(new SqliteTapStore(path, std::move(impl)));
}

Result<BatchOutcome> SqliteTapStore::store_batch(std::string_view device_id,
                                                 std::span<const v1::TapRecord> taps) {
  if (auto s = detail::check_batch(device_id, taps); !s) return std::unexpected(s.error());
  // Serialize before taking the lock: it is the CPU-heavy part and needs no database.
  auto records = detail::serialize_batch(taps);
  if (!records) return std::unexpected(records.error());
  std::lock_guard lock(mutex_);
  if (taps.empty()) {
    auto device = impl_->read_device(device_id);
    if (!device) return std::unexpected(device.error());
    return BatchOutcome{.stored_through_seq = device->stored_through};
  }
  return impl_->store_batch(device_id, taps, *records);
}

Result<std::uint64_t> SqliteTapStore::stored_through(std::string_view device_id) {
  std::lock_guard lock(mutex_);
  auto device = impl_->read_device(device_id);
  if (!device) return std::unexpected(device.error());
  return device->stored_through;
}

Result<std::uint64_t> SqliteTapStore::tap_count() {
  std::lock_guard lock(mutex_);
  auto count = query_int(impl_->db.get(), "SELECT coalesce(sum(tap_count), 0) FROM devices");
  if (!count) return std::unexpected(count.error());
  return static_cast<std::uint64_t>(*count);
}

Result<std::vector<DeviceSummary>> SqliteTapStore::device_summaries() {
  std::lock_guard lock(mutex_);
  auto statement = Statement::prepare(
      impl_->db.get(),
      "SELECT device_id, stored_through_seq, max_seq, tap_count FROM devices ORDER BY device_id");
  if (!statement) return std::unexpected(statement.error());
  std::vector<DeviceSummary> summaries;
  for (;;) {
    auto row = statement->step("listing devices");
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    DeviceSummary summary;
    summary.device_id = std::string(statement->column_text(0));
    summary.stored_through_seq = static_cast<std::uint64_t>(statement->column_int(1));
    summary.max_seq = static_cast<std::uint64_t>(statement->column_int(2));
    summary.tap_count = static_cast<std::uint64_t>(statement->column_int(3));
    // Every held seq is in 1..max_seq, so what is not held below max_seq is the difference.
    summary.missing = summary.max_seq > summary.tap_count ? summary.max_seq - summary.tap_count : 0;
    summaries.push_back(std::move(summary));
  }
  return summaries;
}

Result<std::vector<Conflict>> SqliteTapStore::conflicts() {
  std::lock_guard lock(mutex_);
  auto statement = Statement::prepare(impl_->db.get(),
                                      "SELECT device_id, seq, held_record, received_record, "
                                      "received_at_utc_ms FROM conflicts ORDER BY id");
  if (!statement) return std::unexpected(statement.error());
  std::vector<Conflict> conflicts;
  for (;;) {
    auto row = statement->step("listing conflicts");
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    Conflict conflict;
    conflict.device_id = std::string(statement->column_text(0));
    const std::int64_t seq = statement->column_int(1);
    conflict.seq = static_cast<std::uint64_t>(seq);
    auto held = parse_record(statement->column_blob(2), conflict.device_id, seq);
    if (!held) return std::unexpected(held.error());
    auto received = parse_record(statement->column_blob(3), conflict.device_id, seq);
    if (!received) return std::unexpected(received.error());
    conflict.held = std::move(*held);
    conflict.received = std::move(*received);
    conflict.received_at_utc_ms = statement->column_int(4);
    conflicts.push_back(std::move(conflict));
  }
  return conflicts;
}

Result<std::vector<v1::TapRecord>> SqliteTapStore::taps_of_device(std::string_view device_id,
                                                                  std::uint64_t from_seq,
                                                                  std::size_t limit) {
  std::vector<v1::TapRecord> taps;
  auto n = read_taps_of_device(device_id, from_seq, limit, taps);
  if (!n) return std::unexpected(n.error());
  taps.resize(*n);
  return taps;
}

Result<std::size_t> SqliteTapStore::read_taps_of_device(std::string_view device_id,
                                                        std::uint64_t from_seq, std::size_t limit,
                                                        std::vector<v1::TapRecord>& buffer) {
  if (limit == 0 || from_seq > kMaxSeq) return std::size_t{0};
  // Inclusive upper bound of [from_seq, from_seq + limit), clamped to what SQLite can hold.
  const std::uint64_t last = detail::last_seq_of_range(from_seq, limit);
  std::lock_guard lock(mutex_);
  Statement& statement = impl_->select_taps;
  ResetOnExit reset(statement);
  statement.bind_text(1, device_id);
  statement.bind_int(2, static_cast<std::int64_t>(from_seq));
  statement.bind_int(3, static_cast<std::int64_t>(last));
  std::size_t n = 0;
  for (;; ++n) {
    auto row = statement.step("reading taps");
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    if (n == buffer.size()) buffer.emplace_back();
    if (auto s = detail::parse_record_into(statement.column_blob(1), device_id,
                                           statement.column_int(0), buffer[n]);
        !s) {
      return std::unexpected(s.error());
    }
  }
  return n;
}

}  // namespace faregate::store
