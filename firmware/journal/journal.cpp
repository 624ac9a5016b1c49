#include "firmware/journal/journal.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <sqlite3.h>

#include <algorithm>
#include <climits>
#include <limits>
#include <system_error>
#include <utility>

#include "firmware/journal/schema.h"
#include "firmware/journal/sqlite_util.h"

namespace faregate::journal {

namespace v1 = faregate::v1;
using sqlite::Statement;
using sqlite::Transaction;

namespace {

// How long a call waits for another connection (a technician's faregate-journal, say) to release
// the file before it gives up with kTimeout. Longer than any of our own transactions.
constexpr int kBusyTimeoutMs = 5000;

constexpr std::int64_t kMaxSqlInt = std::numeric_limits<std::int64_t>::max();

// Seqs and versions are uint64 in the protocol but SQLite integers are int64.
Result<std::int64_t> to_sql(std::uint64_t value, std::string_view what) {
  if (value > static_cast<std::uint64_t>(kMaxSqlInt)) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + " " + std::to_string(value) + " is out of range");
  }
  return static_cast<std::int64_t>(value);
}

Result<std::uint64_t> from_sql(std::int64_t value, std::string_view what) {
  if (value < 0) {
    return make_error(ErrorCode::kCorrupt,
                      "stored " + std::string(what) + " is negative: " + std::to_string(value));
  }
  return static_cast<std::uint64_t>(value);
}

// Deterministic so that the same record always gives the same bytes: the back office compares
// resent taps byte for byte to tell a duplicate from a conflict.
Result<std::string> serialize(const google::protobuf::MessageLite& message) {
  std::string out;
  bool ok = false;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    ok = message.SerializeToCodedStream(&coded);
  }  // the CodedOutputStream trims `out` to the bytes written when it goes away
  if (!ok) return make_error(ErrorCode::kInternal, "cannot serialize " + message.GetTypeName());
  return out;
}

template <typename Message>
Result<Message> parse(ByteView bytes, std::string_view what) {
  Message message;
  if (bytes.size() > static_cast<std::size_t>(INT_MAX) ||
      !message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return make_error(ErrorCode::kCorrupt, std::string(what) + " does not decode");
  }
  return message;
}

struct Meta {
  std::uint64_t last_seq = 0;
  std::uint64_t synced_through = 0;
  std::uint64_t deny_list_version = 0;
};

Result<Meta> read_meta(sqlite3* db) {
  auto stmt = Statement::prepare(
      db, "SELECT last_seq, synced_through, deny_list_version FROM journal_meta WHERE id = 1");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return make_error(ErrorCode::kCorrupt, "journal_meta row is missing");
  auto last_seq = from_sql(stmt->column_int(0), "last_seq");
  auto synced = from_sql(stmt->column_int(1), "synced_through");
  auto deny = from_sql(stmt->column_int(2), "deny_list_version");
  if (!last_seq) return std::unexpected(last_seq.error());
  if (!synced) return std::unexpected(synced.error());
  if (!deny) return std::unexpected(deny.error());
  return Meta{*last_seq, *synced, *deny};
}

// 0 when no bundle was ever applied.
Result<std::int64_t> stored_config_version(sqlite3* db) {
  auto select = Statement::prepare(db, "SELECT version FROM config WHERE id = 1");
  if (!select) return std::unexpected(select.error());
  auto row = select->step();
  if (!row) return std::unexpected(row.error());
  return *row ? select->column_int(0) : 0;
}

Status update_meta_column(sqlite3* db, const char* sql, std::int64_t value) {
  auto stmt = Statement::prepare(db, sql);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind_int(1, value);
  return stmt->run();
}

// Inside a write transaction: binds a new file to device_id, or checks that an existing file
// belongs to it.
Status bind_device(sqlite3* db, std::string_view device_id) {
  auto select = Statement::prepare(db, "SELECT device_id FROM journal_meta WHERE id = 1");
  if (!select) return std::unexpected(select.error());
  auto row = select->step();
  if (!row) return std::unexpected(row.error());
  if (*row) {
    std::string_view owner = select->column_text(0);
    if (owner != device_id) {
      // A journal copied from another validator (or a wrong --device-id) would make this device
      // send the other one's seqs under its own name; refuse rather than mix histories.
      return make_error(ErrorCode::kInvalidArgument,
                        "the journal belongs to device \"" + std::string(owner) + "\", not \"" +
                            std::string(device_id) + "\"");
    }
    return {};
  }
  auto insert = Statement::prepare(
      db,
      "INSERT INTO journal_meta (id, device_id, last_seq, synced_through, deny_list_version) "
      "VALUES (1, ?1, 0, 0, 0)");
  if (!insert) return std::unexpected(insert.error());
  insert->bind_text(1, device_id);
  return insert->run();
}

// Everything open() does once the connection exists. Nothing is written to the file before
// schema::identify and the integrity check accepted it, so a refused file is left as it was.
Status prepare_file(sqlite3* db, std::string_view device_id) {
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);

  auto version = schema::identify(db);
  if (!version) return std::unexpected(version.error());
  if (*version > 0) {
    if (auto s = schema::quick_check(db); !s) return s;
  }

  // WAL: a commit appends to the -wal file and syncs it, instead of rewriting pages in place.
  // synchronous=FULL: that sync happens at every commit, so a committed tap survives power loss
  // (NORMAL would only sync at checkpoints). Both must be set before any transaction.
  {
    auto mode = Statement::prepare(db, "PRAGMA journal_mode = WAL");
    if (!mode) return std::unexpected(mode.error());
    auto mode_row = mode->step();
    if (!mode_row) return with_context(mode_row.error(), "switching to WAL");
    if (!*mode_row || mode->column_text(0) != "wal") {
      return make_error(ErrorCode::kIo, "the file system does not support SQLite WAL mode");
    }
  }  // finalized here: a statement still holding a row would block the COMMIT below
  if (auto s = sqlite::exec(db, "PRAGMA synchronous = FULL", "setting synchronous"); !s) return s;

  auto tx = Transaction::immediate(db);
  if (!tx) return std::unexpected(tx.error());
  if (auto s = schema::migrate(db); !s) return s;
  if (auto s = bind_device(db, device_id); !s) return s;
  return tx->commit();
}

}  // namespace

void SqliteCloser::operator()(sqlite3* db) const noexcept {
  // close_v2: every statement is finalized by its owner before this runs, but if one were not,
  // the connection would still be released once it is.
  sqlite3_close_v2(db);
}

Journal::Journal(std::unique_ptr<sqlite3, SqliteCloser> db, std::filesystem::path path,
                 std::string device_id)
    : db_(std::move(db)), path_(std::move(path)), device_id_(std::move(device_id)) {}

Journal::~Journal() = default;

Result<std::unique_ptr<Journal>> Journal::open(const std::filesystem::path& path,
                                               std::string_view device_id) {
  if (device_id.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "a journal needs a device id");
  }
  if (path.empty() || !path.has_filename()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "journal path \"" + path.string() + "\" names no file");
  }
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    // Not created on purpose: a missing data directory usually means the data volume is not
    // mounted, and a fresh journal on the root file system would start again at seq 1.
    const bool missing = !ec || ec == std::errc::no_such_file_or_directory;
    return make_error(ErrorCode::kIo,
                      "journal directory " + dir.string() +
                          (missing ? " does not exist (or is not a directory)"
                                   : " cannot be checked: " + ec.message()));
  }

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  std::unique_ptr<sqlite3, SqliteCloser> db(raw);  // SQLite wants the handle closed even on failure
  if (rc != SQLITE_OK) {
    Error error = sqlite::error_from(db.get(), rc, "cannot open journal " + path.string());
    error.code = ErrorCode::kIo;
    return std::unexpected(std::move(error));
  }
  if (auto s = prepare_file(db.get(), device_id); !s) {
    return with_context(s.error(), "opening journal " + path.string());
  }
  return std::unique_ptr<Journal>(new Journal(std::move(db), path, std::string(device_id)));
}

Result<std::uint64_t> Journal::append(v1::TapRecord record) {
  std::lock_guard lock(mutex_);
  sqlite3* db = db_.get();
  auto tx = Transaction::immediate(db);
  if (!tx) return with_context(tx.error(), "appending a tap");
  auto meta = read_meta(db);
  if (!meta) return with_context(meta.error(), "appending a tap");
  if (meta->last_seq >= static_cast<std::uint64_t>(kMaxSqlInt)) {
    return make_error(ErrorCode::kInternal, "journal seq space exhausted");
  }
  const std::uint64_t seq = meta->last_seq + 1;
  const auto seq_sql = static_cast<std::int64_t>(seq);

  record.set_device_id(device_id_);
  record.set_seq(seq);
  auto bytes = serialize(record);
  if (!bytes) return std::unexpected(bytes.error());

  auto insert =
      Statement::prepare(db, "INSERT INTO taps (seq, tap_time_utc_ms, record) VALUES (?1, ?2, ?3)");
  if (!insert) return std::unexpected(insert.error());
  insert->bind_int(1, seq_sql)
      .bind_int(2, record.tap_time_utc_ms())
      .bind_blob(3, as_bytes(*bytes));
  const std::string what = "appending tap " + std::to_string(seq);
  if (auto s = insert->run(); !s) return with_context(s.error(), what);
  if (auto s = update_meta_column(db, "UPDATE journal_meta SET last_seq = ?1 WHERE id = 1",
                                  seq_sql);
      !s) {
    return with_context(s.error(), what);
  }
  if (auto s = tx->commit(); !s) return with_context(s.error(), what);
  return seq;
}

Result<std::vector<v1::TapRecord>> Journal::unsynced(std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<v1::TapRecord> taps;
  if (limit == 0) return taps;
  // One statement, so the watermark and the rows come from the same snapshot.
  auto stmt = Statement::prepare(
      db_.get(),
      "SELECT seq, record FROM taps "
      "WHERE seq > (SELECT synced_through FROM journal_meta WHERE id = 1) "
      "ORDER BY seq LIMIT ?1");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind_int(1, static_cast<std::int64_t>(
                        std::min<std::uint64_t>(limit, static_cast<std::uint64_t>(kMaxSqlInt))));
  taps.reserve(std::min<std::size_t>(limit, 1024));
  for (;;) {
    auto row = stmt->step();
    if (!row) return with_context(row.error(), "reading unsynced taps");
    if (!*row) break;
    const std::int64_t seq = stmt->column_int(0);
    auto record = parse<v1::TapRecord>(stmt->column_blob(1), "tap " + std::to_string(seq));
    if (!record) return std::unexpected(record.error());
    // The record carries its own identity; a mismatch means the row was damaged or edited.
    if (record->seq() != static_cast<std::uint64_t>(seq) || record->device_id() != device_id_) {
      return make_error(ErrorCode::kCorrupt,
                        "tap " + std::to_string(seq) + " holds the record of " +
                            record->device_id() + " seq " + std::to_string(record->seq()));
    }
    taps.push_back(std::move(*record));
  }
  return taps;
}

Status Journal::mark_synced(std::uint64_t through_seq) {
  std::lock_guard lock(mutex_);
  sqlite3* db = db_.get();
  auto tx = Transaction::immediate(db);
  if (!tx) return with_context(tx.error(), "marking taps synced");
  auto meta = read_meta(db);
  if (!meta) return with_context(meta.error(), "marking taps synced");
  if (through_seq > meta->last_seq) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot mark taps synced through seq " + std::to_string(through_seq) +
                          ": the last seq journaled is " + std::to_string(meta->last_seq));
  }
  // An older ack arriving late (a resent batch) must not make acknowledged taps unsynced again.
  if (through_seq <= meta->synced_through) return {};
  if (auto s = update_meta_column(db, "UPDATE journal_meta SET synced_through = ?1 WHERE id = 1",
                                  static_cast<std::int64_t>(through_seq));
      !s) {
    return with_context(s.error(), "marking taps synced");
  }
  return tx->commit();
}

Result<std::uint64_t> Journal::prune(std::int64_t older_than_utc_ms) {
  std::lock_guard lock(mutex_);
  auto stmt = Statement::prepare(
      db_.get(),
      "DELETE FROM taps "
      "WHERE seq <= (SELECT synced_through FROM journal_meta WHERE id = 1) "
      "AND tap_time_utc_ms < ?1");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind_int(1, older_than_utc_ms);
  if (auto s = stmt->run(); !s) return with_context(s.error(), "pruning taps");
  return static_cast<std::uint64_t>(sqlite3_changes64(db_.get()));
}

Result<JournalStats> Journal::stats() {
  std::lock_guard lock(mutex_);
  auto stmt = Statement::prepare(
      db_.get(),
      "SELECT m.last_seq, m.synced_through, "
      "  (SELECT count(*) FROM taps WHERE seq > m.synced_through), "
      "  (SELECT count(*) FROM taps), "
      "  (SELECT min(tap_time_utc_ms) FROM taps WHERE seq > m.synced_through) "
      "FROM journal_meta AS m WHERE m.id = 1");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return with_context(row.error(), "reading journal stats");
  if (!*row) return make_error(ErrorCode::kCorrupt, "journal_meta row is missing");
  auto last_seq = from_sql(stmt->column_int(0), "last_seq");
  auto synced = from_sql(stmt->column_int(1), "synced_through");
  if (!last_seq) return std::unexpected(last_seq.error());
  if (!synced) return std::unexpected(synced.error());
  JournalStats stats;
  stats.last_seq = *last_seq;
  stats.synced_through = *synced;
  stats.unsynced = static_cast<std::uint64_t>(stmt->column_int(2));  // count(*) is never negative
  stats.stored = static_cast<std::uint64_t>(stmt->column_int(3));
  stats.oldest_unsynced_utc_ms = stmt->column_is_null(4) ? 0 : stmt->column_int(4);
  return stats;
}

Status Journal::apply_deny_list(const v1::DenyListDelta& delta) {
  std::lock_guard lock(mutex_);
  sqlite3* db = db_.get();
  const std::string what = "applying deny list " + std::to_string(delta.from_version()) + "->" +
                           std::to_string(delta.to_version());
  auto to_version = to_sql(delta.to_version(), "deny list version");
  if (!to_version) return with_context(to_version.error(), what);
  auto has_empty = [](const auto& tokens) {
    return std::any_of(tokens.begin(), tokens.end(), [](const auto& t) { return t.empty(); });
  };
  if (has_empty(delta.added()) || (!delta.full() && has_empty(delta.removed()))) {
    return make_error(ErrorCode::kInvalidArgument, what + ": empty card token");
  }

  auto tx = Transaction::immediate(db);
  if (!tx) return with_context(tx.error(), what);
  auto meta = read_meta(db);
  if (!meta) return with_context(meta.error(), what);
  if (!delta.full()) {
    if (delta.from_version() != meta->deny_list_version) {
      return make_error(ErrorCode::kConflict,
                        what + ": this validator holds version " +
                            std::to_string(meta->deny_list_version));
    }
    if (delta.to_version() <= delta.from_version()) {
      return make_error(ErrorCode::kConflict, what + ": a delta must advance the version");
    }
  }

  if (delta.full()) {
    if (auto s = sqlite::exec(db, "DELETE FROM deny_list", what); !s) return s;
  } else if (!delta.removed().empty()) {
    auto remove = Statement::prepare(db, "DELETE FROM deny_list WHERE card_token = ?1");
    if (!remove) return std::unexpected(remove.error());
    for (const std::string& token : delta.removed()) {
      remove->bind_blob(1, as_bytes(token));
      if (auto s = remove->run(); !s) return with_context(s.error(), what);
      remove->reset();
    }
  }
  if (!delta.added().empty()) {
    auto add = Statement::prepare(db, "INSERT OR IGNORE INTO deny_list (card_token) VALUES (?1)");
    if (!add) return std::unexpected(add.error());
    for (const std::string& token : delta.added()) {
      add->bind_blob(1, as_bytes(token));
      if (auto s = add->run(); !s) return with_context(s.error(), what);
      add->reset();
    }
  }
  if (auto s = update_meta_column(db, "UPDATE journal_meta SET deny_list_version = ?1 WHERE id = 1",
                                  *to_version);
      !s) {
    return with_context(s.error(), what);
  }
  if (auto s = tx->commit(); !s) return with_context(s.error(), what);
  return {};
}

Result<bool> Journal::is_denied(ByteView card_token) {
  std::lock_guard lock(mutex_);
  auto stmt = Statement::prepare(db_.get(), "SELECT 1 FROM deny_list WHERE card_token = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind_blob(1, card_token);
  auto row = stmt->step();
  if (!row) return with_context(row.error(), "looking up the deny list");
  return *row;
}

Result<std::uint64_t> Journal::deny_list_version() {
  std::lock_guard lock(mutex_);
  auto meta = read_meta(db_.get());
  if (!meta) return std::unexpected(meta.error());
  return meta->deny_list_version;
}

Status Journal::apply_config(const v1::ConfigBundle& config) {
  std::lock_guard lock(mutex_);
  sqlite3* db = db_.get();
  const std::string what = "applying config version " + std::to_string(config.version());
  auto version = to_sql(config.version(), "config version");
  if (!version) return with_context(version.error(), what);

  auto tx = Transaction::immediate(db);
  if (!tx) return with_context(tx.error(), what);
  auto current_version = stored_config_version(db);
  if (!current_version) return with_context(current_version.error(), what);
  const std::int64_t current = *current_version;
  if (*version < current) {
    // An older bundle arriving late (or replayed) must not undo the operator's newer settings.
    return make_error(ErrorCode::kConflict,
                      what + ": this validator holds version " + std::to_string(current));
  }
  if (*version == current) return {};

  auto bytes = serialize(config);
  if (!bytes) return std::unexpected(bytes.error());
  auto store = Statement::prepare(
      db, "INSERT OR REPLACE INTO config (id, version, bundle) VALUES (1, ?1, ?2)");
  if (!store) return std::unexpected(store.error());
  store->bind_int(1, *version).bind_blob(2, as_bytes(*bytes));
  if (auto s = store->run(); !s) return with_context(s.error(), what);
  if (auto s = tx->commit(); !s) return with_context(s.error(), what);
  return {};
}

Result<v1::ConfigBundle> Journal::config() {
  std::lock_guard lock(mutex_);
  auto stmt = Statement::prepare(db_.get(), "SELECT version, bundle FROM config WHERE id = 1");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return with_context(row.error(), "reading config");
  if (!*row) return v1::ConfigBundle{};
  const std::int64_t version = stmt->column_int(0);
  auto bundle = parse<v1::ConfigBundle>(stmt->column_blob(1), "stored config bundle");
  if (!bundle) return std::unexpected(bundle.error());
  if (version < 0 || bundle->version() != static_cast<std::uint64_t>(version)) {
    return make_error(ErrorCode::kCorrupt, "stored config bundle has version " +
                                               std::to_string(bundle->version()) +
                                               " but is filed under " + std::to_string(version));
  }
  return std::move(*bundle);
}

}  // namespace faregate::journal
