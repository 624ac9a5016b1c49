#include "backoffice/payments/ledger_store.h"

#include <sqlite3.h>

#include <string>
#include <utility>

namespace faregate::payments {

namespace {

// "FGPL": a Faregate payments ledger; opening another SQLite file by mistake fails.
constexpr std::int32_t kApplicationId = 0x4647504C;

// Rows are never deleted: a ledger only adds charges, card-days and verified tokens, and
// updates charges in place (state, attempts, settlement). docs/payments.md explains each column.
constexpr const char* kSchema = R"sql(
CREATE TABLE meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  currency TEXT NOT NULL,
  next_reference INTEGER NOT NULL,
  runs INTEGER NOT NULL
);
CREATE TABLE charges (
  idx INTEGER PRIMARY KEY,
  reference TEXT NOT NULL UNIQUE,
  kind INTEGER NOT NULL,
  card_token BLOB NOT NULL,
  first_day INTEGER NOT NULL,
  last_day INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  first_decline_ms INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  authorization_id TEXT NOT NULL,
  response_code TEXT NOT NULL,
  settled INTEGER NOT NULL
);
CREATE TABLE card_days (
  card_token BLOB NOT NULL,
  service_day INTEGER NOT NULL,
  total INTEGER NOT NULL,
  charge_idx INTEGER NOT NULL,
  PRIMARY KEY (card_token, service_day)
) WITHOUT ROWID;
CREATE TABLE verified (card_token BLOB PRIMARY KEY) WITHOUT ROWID;
)sql";

Error sqlite_error(sqlite3* db, int rc, std::string_view doing) {
  const int primary = rc & 0xFF;
  const ErrorCode code = primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ? ErrorCode::kCorrupt
                         : primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? ErrorCode::kUnavailable
                                                                                : ErrorCode::kIo;
  return Error{code, std::string(doing) + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc))};
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
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  void bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  // Text and blobs are bound without a copy. Requires: they stay valid until they are rebound or
  // the statement is destroyed (save() binds fields of the snapshot it writes, which outlives
  // its statements).
  void bind(int index, std::string_view text) {
    static const char kEmpty = 0;  // a null pointer would bind NULL
    sqlite3_bind_text(stmt_, index, text.empty() ? &kEmpty : text.data(), static_cast<int>(text.size()),
                      SQLITE_STATIC);
  }
  void bind(int index, ByteView blob) {
    static const std::uint8_t kEmpty = 0;  // a null pointer would bind NULL
    sqlite3_bind_blob(stmt_, index, blob.empty() ? &kEmpty : blob.data(), static_cast<int>(blob.size()),
                      SQLITE_STATIC);
  }
  Result<bool> step(std::string_view doing) {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return std::unexpected(sqlite_error(db_, rc, doing));
  }
  Status run(std::string_view doing) {
    auto stepped = step(doing);
    sqlite3_reset(stmt_);
    if (!stepped) return std::unexpected(stepped.error());
    return {};
  }
  std::int64_t column_int(int column) { return sqlite3_column_int64(stmt_, column); }
  std::string column_text(int column) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return text == nullptr ? std::string() : std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  ByteView column_blob(int column) {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
    const int size = sqlite3_column_bytes(stmt_, column);
    return data == nullptr ? ByteView{} : ByteView(data, static_cast<std::size_t>(size));
  }

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

Result<CardToken> token_column(Statement& s, int column, std::string_view table) {
  auto token = CardToken::from_bytes(s.column_blob(column));
  if (!token) return make_error(ErrorCode::kCorrupt, "payments ledger: a card token in " + std::string(table) +
                                                         " is not 1..32 bytes");
  return *token;
}

}  // namespace

LedgerStore::~LedgerStore() {
  if (in_run_) abort_run();
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<LedgerStore>> LedgerStore::open(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  // NOMUTEX: a LedgerStore is used by one thread at a time (see the header), so SQLite's own
  // per-call locking of the connection would only cost time on every row written.
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<LedgerStore> store(new LedgerStore(raw));
  const std::string what = "opening payments ledger " + path.string();
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(raw, rc, what));
  // A fare run holds the write lock for its whole length; another run (or a pay-debt command)
  // waits for it rather than failing at once.
  sqlite3_busy_timeout(raw, 30'000);
  sqlite3_extended_result_codes(raw, 1);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                             // A fare run writes every row of a large ledger in one transaction: a page
                             // cache that holds the indexes keeps it from re-reading them.
                             "PRAGMA cache_size=-65536"}) {
    if (auto s = exec(raw, pragma, what); !s) return std::unexpected(s.error());
  }
  if (auto s = exec(raw, "BEGIN IMMEDIATE", what); !s) return std::unexpected(s.error());
  struct Rollback {
    sqlite3* db;
    bool done = false;
    ~Rollback() {
      if (!done) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  } rollback{raw};
  auto version = query_int(raw, "PRAGMA user_version");
  if (!version) return with_context(version.error(), what);
  if (*version == 0) {
    auto objects = query_int(raw, "SELECT count(*) FROM sqlite_schema");
    if (!objects) return with_context(objects.error(), what);
    if (*objects != 0) return make_error(ErrorCode::kCorrupt, what + ": the file holds other tables");
    if (auto s = exec(raw, kSchema, what); !s) return std::unexpected(s.error());
    const std::string stamp = "PRAGMA application_id=" + std::to_string(kApplicationId) +
                              "; PRAGMA user_version=" + std::to_string(kLedgerSchemaVersion);
    if (auto s = exec(raw, stamp.c_str(), what); !s) return std::unexpected(s.error());
  } else {
    auto application = query_int(raw, "PRAGMA application_id");
    if (!application) return with_context(application.error(), what);
    if (*application != kApplicationId || *version > kLedgerSchemaVersion) {
      return make_error(ErrorCode::kCorrupt, what + ": not a payments ledger of a schema this program knows");
    }
  }
  rollback.done = true;
  if (auto s = exec(raw, "COMMIT", what); !s) return std::unexpected(s.error());
  return store;
}

Result<std::optional<LedgerSnapshot>> LedgerStore::read_rows() {
  auto meta = Statement::prepare(db_, "SELECT schema_version, currency, next_reference, runs FROM meta WHERE id = 1");
  if (!meta) return std::unexpected(meta.error());
  auto row = meta->step("reading the ledger's meta row");
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<LedgerSnapshot>();
  if (meta->column_int(0) != kLedgerSchemaVersion) {
    return make_error(ErrorCode::kCorrupt, "payments ledger: schema version row says " +
                                               std::to_string(meta->column_int(0)));
  }
  LedgerSnapshot s;
  auto currency = fares::CurrencyCode::parse(meta->column_text(1));
  if (!currency) return make_error(ErrorCode::kCorrupt, "payments ledger: bad currency '" + meta->column_text(1) + "'");
  s.currency = *currency;
  if (meta->column_int(2) <= 0) return make_error(ErrorCode::kCorrupt, "payments ledger: bad reference counter");
  s.next_reference = static_cast<std::uint64_t>(meta->column_int(2));

  auto charges = Statement::prepare(
      db_, "SELECT idx, reference, kind, card_token, first_day, last_day, amount, state, attempts, first_decline_ms, "
           "next_attempt_ms, authorization_id, response_code, settled FROM charges ORDER BY idx");
  if (!charges) return std::unexpected(charges.error());
  for (;;) {
    auto r = charges->step("reading charges");
    if (!r) return std::unexpected(r.error());
    if (!*r) break;
    // Indexes are the charges' positions: days point at them, so a hole is corruption.
    if (charges->column_int(0) != static_cast<std::int64_t>(s.charges.size())) {
      return make_error(ErrorCode::kCorrupt, "payments ledger: charge rows are not numbered 0..n-1");
    }
    Charge c;
    c.reference = charges->column_text(1);
    const auto kind = charges->column_int(2);
    const auto state = charges->column_int(7);
    if (kind < 0 || kind > static_cast<std::int64_t>(ChargeKind::kRefund) || state < 0 ||
        state > static_cast<std::int64_t>(ChargeState::kCancelled)) {
      return make_error(ErrorCode::kCorrupt, "payments ledger: charge " + c.reference + " has an unknown kind or state");
    }
    c.kind = static_cast<ChargeKind>(kind);
    c.state = static_cast<ChargeState>(state);
    auto token = token_column(*charges, 3, "charges");
    if (!token) return std::unexpected(token.error());
    c.token = *token;
    c.first_day = static_cast<std::int32_t>(charges->column_int(4));
    c.last_day = static_cast<std::int32_t>(charges->column_int(5));
    c.amount = charges->column_int(6);
    c.attempts = static_cast<std::int32_t>(charges->column_int(8));
    c.first_decline_ms = charges->column_int(9);
    c.next_attempt_ms = charges->column_int(10);
    c.authorization_id = charges->column_text(11);
    c.response_code = charges->column_text(12);
    c.settled = charges->column_int(13) != 0;
    s.charges.push_back(std::move(c));
  }
  auto days = Statement::prepare(db_, "SELECT card_token, service_day, total, charge_idx FROM card_days");
  if (!days) return std::unexpected(days.error());
  for (;;) {
    auto r = days->step("reading card-days");
    if (!r) return std::unexpected(r.error());
    if (!*r) break;
    auto token = token_column(*days, 0, "card_days");
    if (!token) return std::unexpected(token.error());
    s.days.push_back({*token, static_cast<std::int32_t>(days->column_int(1)), days->column_int(2), days->column_int(3)});
  }
  auto verified = Statement::prepare(db_, "SELECT card_token FROM verified");
  if (!verified) return std::unexpected(verified.error());
  for (;;) {
    auto r = verified->step("reading verified tokens");
    if (!r) return std::unexpected(r.error());
    if (!*r) break;
    auto token = token_column(*verified, 0, "verified");
    if (!token) return std::unexpected(token.error());
    s.verified.push_back(*token);
  }
  return std::optional<LedgerSnapshot>(std::move(s));
}

Result<LedgerRun> LedgerStore::begin_run() {
  if (in_run_) return make_error(ErrorCode::kInternal, "a fare run is already open on this ledger store");
  // IMMEDIATE: the write lock is taken now, so the state read below is the one this run
  // replaces; a concurrent run waits here (busy timeout) instead of overwriting this one.
  if (auto s = exec(db_, "BEGIN IMMEDIATE", "starting a fare run"); !s) return std::unexpected(s.error());
  in_run_ = true;
  auto rows = read_rows();
  if (!rows) {
    abort_run();
    return std::unexpected(rows.error());
  }
  auto runs = query_int(db_, "SELECT coalesce((SELECT runs FROM meta WHERE id = 1), 0)");
  if (!runs) {
    abort_run();
    return std::unexpected(runs.error());
  }
  return LedgerRun{std::move(*rows), static_cast<std::uint64_t>(*runs)};
}

Status LedgerStore::save(const LedgerSnapshot& snapshot) {
  if (!in_run_) return make_error(ErrorCode::kInternal, "saving a ledger outside a fare run");
  auto meta = Statement::prepare(
      db_, "INSERT INTO meta (id, schema_version, currency, next_reference, runs) VALUES (1, ?1, ?2, ?3, 1) "
           "ON CONFLICT (id) DO UPDATE SET currency = excluded.currency, next_reference = excluded.next_reference, "
           "runs = runs + 1");
  if (!meta) return std::unexpected(meta.error());
  meta->bind(1, kLedgerSchemaVersion);
  meta->bind(2, snapshot.currency.str());
  meta->bind(3, static_cast<std::int64_t>(snapshot.next_reference));
  if (auto s = meta->run("writing the ledger's meta row"); !s) return s;

  auto charge = Statement::prepare(
      db_, "INSERT OR REPLACE INTO charges VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  if (!charge) return std::unexpected(charge.error());
  for (std::size_t i = 0; i < snapshot.charges.size(); ++i) {
    const Charge& c = snapshot.charges[i];
    charge->bind(1, static_cast<std::int64_t>(i));
    charge->bind(2, std::string_view(c.reference));
    charge->bind(3, static_cast<std::int64_t>(c.kind));
    charge->bind(4, c.token.bytes());
    charge->bind(5, std::int64_t{c.first_day});
    charge->bind(6, std::int64_t{c.last_day});
    charge->bind(7, c.amount);
    charge->bind(8, static_cast<std::int64_t>(c.state));
    charge->bind(9, std::int64_t{c.attempts});
    charge->bind(10, c.first_decline_ms);
    charge->bind(11, c.next_attempt_ms);
    charge->bind(12, std::string_view(c.authorization_id));
    charge->bind(13, std::string_view(c.response_code));
    charge->bind(14, std::int64_t{c.settled ? 1 : 0});
    if (auto s = charge->run("writing a charge"); !s) return s;
  }
  auto day = Statement::prepare(db_, "INSERT OR REPLACE INTO card_days VALUES (?1, ?2, ?3, ?4)");
  if (!day) return std::unexpected(day.error());
  for (const auto& d : snapshot.days) {
    day->bind(1, d.token.bytes());
    day->bind(2, std::int64_t{d.service_day});
    day->bind(3, d.total);
    day->bind(4, d.charge);
    if (auto s = day->run("writing a card-day"); !s) return s;
  }
  auto verified = Statement::prepare(db_, "INSERT OR IGNORE INTO verified VALUES (?1)");
  if (!verified) return std::unexpected(verified.error());
  for (const auto& t : snapshot.verified) {
    verified->bind(1, t.bytes());
    if (auto s = verified->run("writing a verified token"); !s) return s;
  }
  return {};
}

Status LedgerStore::commit() {
  if (!in_run_) return make_error(ErrorCode::kInternal, "committing outside a fare run");
  if (auto s = exec(db_, "COMMIT", "committing the fare run"); !s) {
    abort_run();
    return s;
  }
  in_run_ = false;
  return {};
}

void LedgerStore::abort_run() {
  if (!in_run_) return;
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  in_run_ = false;
}

Result<std::optional<LedgerSnapshot>> LedgerStore::read() {
  if (in_run_) return read_rows();
  if (auto s = exec(db_, "BEGIN", "reading the payments ledger"); !s) return std::unexpected(s.error());
  auto rows = read_rows();
  sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  return rows;
}

}  // namespace faregate::payments
