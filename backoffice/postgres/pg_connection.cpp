#include "backoffice/postgres/pg_connection.h"

#include <algorithm>
#include <array>
#include <climits>
#include <string>
#include <utility>

namespace faregate::postgres {

namespace {

std::uint64_t read_be(const char* data, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(data[i]);
  return value;
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  return std::string(text);
}

std::string connection_message(PGconn* conn) {
  if (conn == nullptr) return "out of memory";
  return trimmed(PQerrorMessage(conn));
}

ErrorCode code_for_sqlstate(std::string_view state) {
  if (state.size() != 5) return ErrorCode::kIo;
  const std::string_view klass = state.substr(0, 2);
  // Connection exceptions, operator intervention (shutdown, crash, cancel), serialization
  // failures and deadlocks, lock timeouts: nothing was stored and trying again later may work.
  if (klass == "08" || klass == "57" || klass == "40" || state == "55P03") {
    return ErrorCode::kUnavailable;
  }
  if (klass == "53") return ErrorCode::kIo;  // insufficient resources: disk full, out of memory
  if (state == "XX001" || state == "XX002") return ErrorCode::kCorrupt;
  if (state == "42P01" || state == "42703") return ErrorCode::kCorrupt;  // our tables were altered
  if (state == "42501") return ErrorCode::kIo;                           // permission denied
  if (klass == "42") return ErrorCode::kInternal;                        // a malformed statement
  if (klass == "22") return ErrorCode::kInvalidArgument;
  return ErrorCode::kIo;
}

void ignore_notice(void*, const char*) {}

}  // namespace

void append_be(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

std::string copy_binary_header() {
  std::string data("PGCOPY\n\377\r\n\0", 11);
  append_be(data, 0, 4);  // flags
  append_be(data, 0, 4);  // header extension length
  return data;
}

Error pg_error(PGconn* conn, const PGresult* result, std::string_view doing) {
  std::string message(doing);
  message += ": ";
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  ErrorCode code = ErrorCode::kIo;
  message += primary != nullptr ? std::string(primary) : connection_message(conn);
  if (state != nullptr) {
    message += " (SQLSTATE ";
    message += state;
    message += ")";
    code = code_for_sqlstate(state);
  }
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) code = ErrorCode::kUnavailable;
  return Error{code, std::move(message)};
}

// --- Params ---

Params& Params::int8(std::int64_t value) {
  std::string bytes;
  append_be(bytes, static_cast<std::uint64_t>(value), 8);
  return owned(kInt8Oid, std::move(bytes));
}

Params& Params::int4(std::int32_t value) {
  std::string bytes;
  append_be(bytes, static_cast<std::uint32_t>(value), 4);
  return owned(kInt4Oid, std::move(bytes));
}

Params& Params::boolean(bool value) { return owned(kBoolOid, std::string(1, value ? '\1' : '\0')); }

Params& Params::int8_array(std::span<const std::int64_t> values) {
  std::string bytes;
  append_be(bytes, 1, 4);         // dimensions
  append_be(bytes, 0, 4);         // flags: no NULLs
  append_be(bytes, kInt8Oid, 4);  // element type
  append_be(bytes, values.size(), 4);
  append_be(bytes, 1, 4);  // lower bound
  for (const std::int64_t value : values) {
    append_be(bytes, 8, 4);
    append_be(bytes, static_cast<std::uint64_t>(value), 8);
  }
  return owned(kInt8ArrayOid, std::move(bytes));
}

bool Params::fits() const {
  return std::all_of(values_.begin(), values_.end(), [](const Value& value) {
    return (value.uses_owned ? value.owned.size() : value.view.size()) <=
           static_cast<std::size_t>(INT_MAX);
  });
}

Params::Arrays Params::arrays() const {
  Arrays arrays;
  for (const auto& value : values_) {
    const std::string_view bytes = value.uses_owned ? std::string_view(value.owned) : value.view;
    arrays.types.push_back(value.type);
    // libpq reads a null pointer as SQL NULL: an empty value must still point somewhere.
    arrays.values.push_back(bytes.data() != nullptr ? bytes.data() : "");
    arrays.lengths.push_back(static_cast<int>(bytes.size()));
    arrays.formats.push_back(1);
  }
  return arrays;
}

Params& Params::owned(Oid type, std::string bytes) {
  values_.push_back(Value{type, true, std::move(bytes), {}});
  return *this;
}

Params& Params::viewed(Oid type, std::string_view bytes) {
  values_.push_back(Value{type, false, {}, bytes});
  return *this;
}

// --- Rows ---

Status Rows::expect(std::initializer_list<Oid> types, std::string_view doing) const {
  bool ok = PQnfields(result_.get()) == static_cast<int>(types.size());
  int column = 0;
  for (const Oid type : types) {
    if (!ok) break;
    ok = PQftype(result_.get(), column) == type && PQfformat(result_.get(), column) == 1;
    ++column;
  }
  if (!ok) {
    return make_error(ErrorCode::kInternal,
                      std::string(doing) + ": the server answered with unexpected columns");
  }
  return {};
}

std::string_view Rows::bytes(int row, int column) const {
  if (is_null(row, column)) return {};
  return {PQgetvalue(result_.get(), row, column),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::uint64_t Rows::fixed(int row, int column, int width) const {
  const std::string_view value = bytes(row, column);
  if (value.size() != static_cast<std::size_t>(width)) return 0;
  return read_be(value.data(), width);
}

// --- Connection ---

Result<Connection> Connection::open(std::string_view conninfo, std::int64_t connect_timeout_s,
                                    const char* application_name) {
  const std::string text(conninfo);
  {
    // Checked first so that a typo is reported as such, not as a failure to connect. The
    // message is libpq's, which names the offending part but never echoes the whole string.
    char* parse_error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(text.c_str(), &parse_error);
    if (parsed == nullptr) {
      std::string message = parse_error != nullptr ? trimmed(parse_error) : "out of memory";
      PQfreemem(parse_error);
      return make_error(ErrorCode::kInvalidArgument,
                        "malformed PostgreSQL connection string: " + message);
    }
    PQconninfoFree(parsed);
  }
  // Defaults first: whatever the connection string itself says overrides them.
  const std::string connect_timeout = std::to_string(std::max<std::int64_t>(connect_timeout_s, 1));
  const std::array<const char*, 4> keywords = {"connect_timeout", "application_name", "dbname",
                                               nullptr};
  const std::array<const char*, 4> values = {connect_timeout.c_str(), application_name,
                                             text.c_str(), nullptr};
  Connection conn(PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1));
  if (conn.get() == nullptr || !conn.ok()) {
    return make_error(ErrorCode::kUnavailable,
                      "connecting to PostgreSQL: " + connection_message(conn.get()));
  }
  PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
  return conn;
}

Result<Rows> Connection::query(std::string_view sql, const Params& params,
                               std::string_view doing) {
  if (!params.fits()) {
    return make_error(ErrorCode::kInvalidArgument, std::string(doing) + ": value too large");
  }
  const std::string text(sql);
  const auto arrays = params.arrays();
  ResultHandle result(PQexecParams(conn_.get(), text.c_str(), static_cast<int>(params.size()),
                                   arrays.types.data(), arrays.values.data(),
                                   arrays.lengths.data(), arrays.formats.data(),
                                   /*resultFormat=*/1));
  const auto status = result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    return std::unexpected(pg_error(conn_.get(), result.get(), doing));
  }
  ++successes_;
  return Rows(std::move(result));
}

Status Connection::command(std::string_view sql, std::string_view doing) {
  const std::string text(sql);
  ResultHandle result(PQexec(conn_.get(), text.c_str()));
  const auto status = result != nullptr ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return std::unexpected(pg_error(conn_.get(), result.get(), doing));
  }
  ++successes_;
  return {};
}

Status Connection::copy_in(std::string_view sql, std::string_view data, std::string_view doing) {
  const std::string text(sql);
  ResultHandle start(PQexec(conn_.get(), text.c_str()));
  if (start == nullptr || PQresultStatus(start.get()) != PGRES_COPY_IN) {
    return std::unexpected(pg_error(conn_.get(), start.get(), doing));
  }
  constexpr std::size_t kChunk = 1 << 20;
  bool sent = true;
  for (std::size_t at = 0; at < data.size() && sent; at += kChunk) {
    const std::size_t length = std::min(kChunk, data.size() - at);
    sent = PQputCopyData(conn_.get(), data.data() + at, static_cast<int>(length)) == 1;
  }
  // Ending the COPY with an error message makes the server abandon it; either way the final
  // result below tells what happened.
  if (PQputCopyEnd(conn_.get(), sent ? nullptr : "client failed to send COPY data") != 1) {
    return std::unexpected(pg_error(conn_.get(), nullptr, doing));
  }
  // Every result is drained, even after a failure, so the connection is ready for the next
  // statement.
  Status status;
  while (ResultHandle result{PQgetResult(conn_.get())}) {
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK && status) {
      status = std::unexpected(pg_error(conn_.get(), result.get(), doing));
    }
  }
  if (status) ++successes_;
  return status;
}

Status Connection::ready(const std::function<Status()>& setup) {
  if (!ok()) {
    PQreset(conn_.get());
    if (!ok()) {
      return make_error(ErrorCode::kUnavailable,
                        "reconnecting to PostgreSQL: " + connection_message(conn_.get()));
    }
    if (auto s = setup(); !s) return s;
  }
  const auto state = PQtransactionStatus(conn_.get());
  if (state == PQTRANS_INTRANS || state == PQTRANS_INERROR) {
    return command("ROLLBACK", "ending a transaction left open");
  }
  return {};
}

// --- Transaction ---

Result<Transaction> Transaction::begin(Connection& conn) {
  if (auto s = conn.command("BEGIN", "starting a transaction"); !s) {
    return std::unexpected(s.error());
  }
  return Transaction(conn);
}

Transaction::Transaction(Transaction&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)) {}

Transaction::~Transaction() {
  if (conn_ != nullptr && conn_->ok()) ResultHandle ignored(PQexec(conn_->get(), "ROLLBACK"));
}

Status Transaction::commit() {
  Connection* conn = std::exchange(conn_, nullptr);
  ResultHandle result(PQexec(conn->get(), "COMMIT"));
  if (result == nullptr || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    return std::unexpected(pg_error(conn->get(), result.get(), "committing"));
  }
  // COMMIT of a transaction that failed earlier "succeeds" as a ROLLBACK.
  if (std::string_view(PQcmdStatus(result.get())) != "COMMIT") {
    return make_error(ErrorCode::kIo, "committing: the server rolled the transaction back");
  }
  ++conn->successes_;
  return {};
}

}  // namespace faregate::postgres
