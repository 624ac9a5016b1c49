#pragma once
// postgres::Connection: one libpq connection with errors as values, binary parameters and rows,
// transactions and COPY FROM STDIN (binary). Shared by the PostgreSQL tap store and the sharded
// fare run, so that both map server errors, bind values and end transactions the same way.
//
// Errors: every failure is a faregate::Error whose message starts with the caller's `doing`
// text, then the server's primary message and "(SQLSTATE xxxxx)" when the server sent one.
// Codes: connection lost, shutdown, serialization failure, deadlock, lock timeout ->
// kUnavailable (nothing was done, try again); our tables altered or data corruption -> kCorrupt;
// a malformed statement -> kInternal; bad data -> kInvalidArgument; anything else -> kIo.
//
// Thread safety: none. A Connection, and the Transaction and Rows made from it, belong to one
// thread at a time (one connection per thread, or a mutex around every use, as the tap store
// does). libpq itself is thread-safe across distinct connections.

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace faregate::postgres {

// Type OIDs from PostgreSQL's pg_type.dat; they are part of the wire protocol and never change.
inline constexpr Oid kBoolOid = 16;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kInt4Oid = 23;
inline constexpr Oid kTextOid = 25;
inline constexpr Oid kInt8ArrayOid = 1016;

struct ResultClearer {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using ResultHandle = std::unique_ptr<PGresult, ResultClearer>;

// Appends the low `bytes` bytes of `value`, big-endian (the wire's byte order).
void append_be(std::string& out, std::uint64_t value, int bytes);

// The start of a COPY ... (FORMAT binary) stream: signature, flags, header extension length.
// End the stream with append_be(out, 0xFFFF, 2).
std::string copy_binary_header();

// The error for a failed statement (`result` may be null) on `conn` (may be null), as described
// at the top of this file.
Error pg_error(PGconn* conn, const PGresult* result, std::string_view doing);

// Parameters sent in binary format with their types, so nothing is quoted or parsed as text.
class Params {
 public:
  Params& int8(std::int64_t value);
  Params& int4(std::int32_t value);
  Params& boolean(bool value);
  // A one-dimensional bigint[] without NULLs.
  Params& int8_array(std::span<const std::int64_t> values);
  // Views: the caller keeps the bytes alive until the statement ran.
  Params& text(std::string_view value) { return viewed(kTextOid, value); }
  Params& bytea(std::string_view value) { return viewed(kByteaOid, value); }

  std::size_t size() const { return values_.size(); }
  // Returns: whether every value fits libpq's int lengths.
  bool fits() const;

  // Arrays for PQexecParams, valid while this object is unchanged.
  struct Arrays {
    std::vector<Oid> types;
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
  };
  Arrays arrays() const;

 private:
  struct Value {
    Oid type = 0;
    bool uses_owned = false;
    std::string owned;
    std::string_view view;
  };
  Params& owned(Oid type, std::string bytes);
  Params& viewed(Oid type, std::string_view bytes);
  std::vector<Value> values_;
};

// The rows of one statement, in binary format. Check the column types once with expect(); the
// accessors then read them without further checks on the server's data.
class Rows {
 public:
  explicit Rows(ResultHandle result) : result_(std::move(result)) {}

  int size() const { return PQntuples(result_.get()); }
  // kInternal "<doing>: the server answered with unexpected columns" unless the columns are
  // exactly `types`, in binary format.
  Status expect(std::initializer_list<Oid> types, std::string_view doing) const;

  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  // Requires (all accessors): row < size(), column < the column count.
  std::string_view bytes(int row, int column) const;
  // NULL (and, defensively, a value of the wrong width) reads as 0 / false.
  std::int64_t int8(int row, int column) const {
    return static_cast<std::int64_t>(fixed(row, column, 8));
  }
  std::int32_t int4(int row, int column) const {
    return static_cast<std::int32_t>(fixed(row, column, 4));
  }
  bool boolean(int row, int column) const { return fixed(row, column, 1) != 0; }

 private:
  std::uint64_t fixed(int row, int column, int width) const;
  ResultHandle result_;
};

class Connection {
 public:
  // Connects with `conninfo` (a URI or key=value string); `connect_timeout_s` and
  // `application_name` are defaults that the string itself may override. Notices are dropped.
  // Returns: kInvalidArgument "malformed PostgreSQL connection string: ..." (libpq's reason,
  // never the whole string) or kUnavailable "connecting to PostgreSQL: ...".
  static Result<Connection> open(std::string_view conninfo, std::int64_t connect_timeout_s,
                                 const char* application_name);

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

  PGconn* get() const { return conn_.get(); }
  bool ok() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

  // One statement with binary parameters and binary results.
  Result<Rows> query(std::string_view sql, const Params& params, std::string_view doing);
  // SQL text without parameters (several statements allowed), rows discarded.
  Status command(std::string_view sql, std::string_view doing);
  // Runs a COPY ... FROM STDIN statement and sends `data` (in the statement's format).
  Status copy_in(std::string_view sql, std::string_view data, std::string_view doing);

  // A live connection with no transaction open: after the server went away, reconnects and
  // calls `setup` (which re-creates session state); an open or failed transaction is rolled
  // back. Returns: kUnavailable "reconnecting to PostgreSQL: ..." or setup's error.
  Status ready(const std::function<Status()>& setup);

  // Statements (query, command, copy_in, commit) that succeeded on this connection: compared
  // before and after a failed call, tells whether that call reached the server.
  std::uint64_t successes() const { return successes_; }

 private:
  struct Closer {
    void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
  };
  explicit Connection(PGconn* conn) : conn_(conn) {}
  std::unique_ptr<PGconn, Closer> conn_;
  std::uint64_t successes_ = 0;
  friend class Transaction;
};

// BEGIN ... COMMIT on a Connection; rolls back unless committed, so that every early return
// leaves nothing of the work behind. The Connection must outlive it.
class Transaction {
 public:
  static Result<Transaction> begin(Connection& conn);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // Returns only once the server reported the commit done: an error as pg_error's "committing",
  // or kIo "committing: the server rolled the transaction back" when an earlier statement had
  // failed. Requires: called at most once.
  Status commit();

 private:
  explicit Transaction(Connection& conn) : conn_(&conn) {}
  Connection* conn_;
};

}  // namespace faregate::postgres
