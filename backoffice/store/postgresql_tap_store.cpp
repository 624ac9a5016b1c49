#include "backoffice/store/postgresql_tap_store.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backoffice/postgres/pg_connection.h"
#include "backoffice/store/tap_record_bytes.h"

namespace faregate::store {

namespace v1 = faregate::v1;
using detail::kMaxSeq;
using postgres::append_be;
using postgres::kBoolOid;
using postgres::kByteaOid;
using postgres::kInt4Oid;
using postgres::kInt8ArrayOid;
using postgres::kInt8Oid;
using postgres::kTextOid;
using postgres::Params;
using postgres::Transaction;

namespace {

// store_meta.application: marks the schema as a Faregate tap store, so that a schema holding some
// other program's tables of the same names is refused rather than written into.
constexpr std::string_view kApplication = "faregate-tap-store";

// Keys of pg_advisory_xact_lock(int, int): 'FGTS', then what the lock serializes.
constexpr std::int32_t kLockClass = 0x46475453;
constexpr std::int32_t kLockSchema = 1;
constexpr std::int32_t kLockPartitions = 2;

// Tap times are clamped into [1970, 9999] before they are turned into a date: a validator with a
// broken clock must not be able to make its batch fail forever (PostgreSQL refuses timestamps
// past 294276 AD) nor make the store create partitions beyond year 9999.
constexpr std::string_view kServiceDayOf =
    "((to_timestamp(least(greatest({t}, 0), 253402300799999) / 1000.0) AT TIME ZONE {tz})"
    " - make_interval(mins => {cut}))::date";

std::string service_day_sql(std::string_view time_column, std::string_view tz_param,
                            std::string_view cut_param) {
  std::string sql(kServiceDayOf);
  auto replace = [&sql](std::string_view what, std::string_view with) {
    const auto at = sql.find(what);
    sql.replace(at, what.size(), with);
  };
  replace("{t}", time_column);
  replace("{tz}", tz_param);
  replace("{cut}", cut_param);
  return sql;
}

// kMigrations[i] takes the schema from version i to i + 1. Append only; never edit one that
// shipped. Version 0 is "no store_meta table".
constexpr std::array<std::string_view, 1> kMigrations = {
    R"sql(
CREATE TABLE store_meta (
  id integer PRIMARY KEY CHECK (id = 1),
  application text NOT NULL,
  schema_version integer NOT NULL,
  service_day_time_zone text NOT NULL,
  service_day_cut_minutes integer NOT NULL
);
CREATE TABLE devices (
  device_id text PRIMARY KEY,
  stored_through_seq bigint NOT NULL,
  max_seq bigint NOT NULL,
  tap_count bigint NOT NULL
);
-- The arbiter of (device_id, seq) uniqueness across every service day: a unique index on the
-- partitioned taps table would have to include service_day, and a resent tap whose time was
-- changed would then land in another partition beside the original.
CREATE TABLE tap_keys (
  device_id text NOT NULL,
  seq bigint NOT NULL CHECK (seq >= 1),
  service_day date NOT NULL,
  PRIMARY KEY (device_id, seq)
);
CREATE TABLE taps (
  device_id text NOT NULL,
  seq bigint NOT NULL CHECK (seq >= 1),
  service_day date NOT NULL,
  tap_time_utc_ms bigint NOT NULL,
  card_token bytea NOT NULL,
  record bytea NOT NULL,
  PRIMARY KEY (device_id, seq, service_day)
) PARTITION BY RANGE (service_day);
CREATE TABLE conflicts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id text NOT NULL,
  seq bigint NOT NULL,
  held_record bytea NOT NULL,
  received_record bytea NOT NULL,
  -- A validator resending the same contradicting version (lost ack) adds no second row. The
  -- digest keeps the index entry small whatever the record size.
  received_digest bytea GENERATED ALWAYS AS (sha256(received_record)) STORED,
  received_at_utc_ms bigint NOT NULL,
  UNIQUE (device_id, seq, received_digest)
);
)sql",
};
constexpr std::int64_t kSchemaVersion = static_cast<std::int64_t>(kMigrations.size());
constexpr std::string_view kOurTables = "'store_meta', 'devices', 'tap_keys', 'taps', 'conflicts'";

// The encoding of a service day as PostgreSQL prints it ("2026-01-31"), checked before it is
// used in the name and bounds of a partition (DDL takes no parameters).
std::optional<std::chrono::year_month_day> parse_day(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  auto number = [&text](std::size_t at, std::size_t length, auto& out) {
    const char* first = text.data() + at;
    const char* last = first + length;
    if (!std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; })) return false;
    return std::from_chars(first, last, out).ptr == last;
  };
  if (!number(0, 4, year) || !number(5, 2, month) || !number(8, 2, day)) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month},
                                         std::chrono::day{day}};
  if (!date.ok()) return std::nullopt;
  return date;
}

std::string format_day(const std::chrono::year_month_day& date, bool compact) {
  char buffer[16];
  const auto written =
      std::snprintf(buffer, sizeof buffer, compact ? "%04d%02u%02u" : "%04d-%02u-%02u",
                    static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                    static_cast<unsigned>(date.day()));
  return std::string(buffer, static_cast<std::size_t>(std::max(written, 0)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct PostgresqlTapStore::Impl {
  // Set by open(); always present afterwards.
  std::optional<postgres::Connection> db;
  PostgresqlTapStoreOptions options;
  ServiceDayRule rule;
  // Service days whose partition is known to exist ("2026-01-31").
  std::set<std::string> partitions;

  // --- statements ---

  Result<postgres::Rows> query(std::string_view sql, const Params& params,
                               std::string_view doing) {
    return db->query(sql, params, doing);
  }
  Status command(std::string_view sql, std::string_view doing) { return db->command(sql, doing); }

  // --- session ---

  Status setup_session() {
    const std::string settings =
        "SET lock_timeout = '" + std::to_string(options.lock_timeout.count()) + "ms'";
    if (auto s = command(settings, "configuring the session"); !s) return s;
    // The staging table of the batch path: private to this session, emptied at every commit
    // and rollback.
    return command(
        "CREATE TEMPORARY TABLE IF NOT EXISTS faregate_staging ("
        " ord integer NOT NULL, seq bigint NOT NULL, tap_time_utc_ms bigint NOT NULL,"
        " card_token bytea NOT NULL, record bytea NOT NULL) ON COMMIT DELETE ROWS",
        "creating the staging table");
  }

  // A usable connection with no transaction open: reconnects (and sets the session up again)
  // after the server went away.
  Status ready() {
    return db->ready([this] { return setup_session(); });
  }

  // Runs one store operation. If the connection turns out to be dead at its very first
  // statement (the server restarted since the last call), the server saw nothing of it, so it
  // is run once more on a fresh connection.
  template <typename Op>
  auto run(Op&& op) -> decltype(op()) {
    if (auto s = ready(); !s) return std::unexpected(s.error());
    const std::uint64_t before = db->successes();
    auto result = op();
    if (!result && db->successes() == before && !db->ok()) {
      if (auto s = ready(); !s) return std::unexpected(s.error());
      result = op();
    }
    return result;
  }

  std::int64_t now_utc_ms() const {
    if (options.utc_now_ms) return options.utc_now_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // --- schema ---

  Status check_time_zone(const std::string& time_zone) {
    auto rows = query("SELECT now() AT TIME ZONE $1", Params().text(time_zone),
                      "checking the service-day time zone");
    if (!rows) {
      return make_error(ErrorCode::kInvalidArgument,
                        "service-day time zone '" + time_zone + "' is not known to the server");
    }
    return {};
  }

  Result<ServiceDayRule> create_schema(const ServiceDayRule& wanted) {
    for (std::size_t step = 0; step < kMigrations.size(); ++step) {
      if (auto s = command(kMigrations[step], "creating the tap store schema"); !s) {
        return std::unexpected(s.error());
      }
    }
    auto inserted = query(
        "INSERT INTO store_meta (id, application, schema_version, service_day_time_zone,"
        " service_day_cut_minutes) VALUES (1, $1, $2, $3, $4)",
        Params()
            .text(kApplication)
            .int4(static_cast<std::int32_t>(kSchemaVersion))
            .text(wanted.time_zone)
            .int4(static_cast<std::int32_t>(wanted.cut.count())),
        "recording the store identity");
    if (!inserted) return std::unexpected(inserted.error());
    return wanted;
  }

  Result<ServiceDayRule> check_schema(const std::optional<ServiceDayRule>& wanted,
                                      const std::string& schema) {
    auto rows = query(
        "SELECT application, schema_version::bigint, service_day_time_zone,"
        " service_day_cut_minutes::bigint FROM store_meta WHERE id = 1",
        Params(), "reading the store identity");
    if (!rows) return std::unexpected(rows.error());
    if (auto s =
            rows->expect({kTextOid, kInt8Oid, kTextOid, kInt8Oid}, "reading the store identity");
        !s) {
      return std::unexpected(s.error());
    }
    if (rows->size() != 1 || rows->bytes(0, 0) != kApplication) {
      return make_error(ErrorCode::kCorrupt,
                        "schema " + schema + " holds a store_meta table that is not a tap store's");
    }
    const std::int64_t version = rows->int8(0, 1);
    if (version > kSchemaVersion) {
      return make_error(ErrorCode::kCorrupt, "schema version " + std::to_string(version) +
                                                 " is newer than this program supports (" +
                                                 std::to_string(kSchemaVersion) + ")");
    }
    if (version < 1) {
      return make_error(ErrorCode::kCorrupt, "schema version " + std::to_string(version) +
                                                 " is not a valid tap store version");
    }
    // Later versions: run kMigrations[version..] here, bumping schema_version, under the
    // schema lock this transaction holds.
    ServiceDayRule stored{std::string(rows->bytes(0, 2)), std::chrono::minutes(rows->int8(0, 3))};
    if (wanted && *wanted != stored) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the database cuts service days at " + std::to_string(stored.cut.count()) +
                            " min in " + stored.time_zone + ", not at " +
                            std::to_string(wanted->cut.count()) + " min in " + wanted->time_zone);
    }
    return stored;
  }

  // Creates the schema in the current schema, or checks the one there. Several nodes starting at
  // once serialize on an advisory lock, so exactly one of them creates it.
  Result<ServiceDayRule> prepare_schema(const std::optional<ServiceDayRule>& wanted) {
    auto current = query("SELECT current_schema()::text", Params(), "finding the current schema");
    if (!current) return std::unexpected(current.error());
    if (current->size() != 1 || current->is_null(0, 0)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "no schema of the connection's search_path exists");
    }
    const std::string schema(current->bytes(0, 0));
    if (wanted) {
      if (auto s = check_time_zone(wanted->time_zone); !s) return std::unexpected(s.error());
    }

    auto tx = Transaction::begin(*db);
    if (!tx) return std::unexpected(tx.error());
    auto locked = query("SELECT pg_advisory_xact_lock($1, $2)",
                        Params().int4(kLockClass).int4(kLockSchema), "locking the schema");
    if (!locked) return std::unexpected(locked.error());
    auto tables = query(
        "SELECT c.relname::text FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relname IN (" +
            std::string(kOurTables) + ")",
        Params(), "listing the schema's tables");
    if (!tables) return std::unexpected(tables.error());
    bool has_meta = false;
    std::string other;
    for (int row = 0; row < tables->size(); ++row) {
      const std::string_view name = tables->bytes(row, 0);
      if (name == "store_meta") {
        has_meta = true;
      } else if (other.empty()) {
        other = std::string(name);
      }
    }
    Result<ServiceDayRule> adopted = ServiceDayRule{};
    if (has_meta) {
      adopted = check_schema(wanted, schema);
    } else if (!other.empty()) {
      return make_error(ErrorCode::kCorrupt, "schema " + schema + " already holds a table named " +
                                                 other + " that is not part of a tap store");
    } else {
      adopted = create_schema(wanted.value_or(ServiceDayRule{}));
    }
    if (!adopted) return adopted;
    if (auto s = tx->commit(); !s) return std::unexpected(s.error());
    return adopted;
  }

  // --- partitions ---

  Status create_partition(const std::string& day_text) {
    const auto day = parse_day(day_text);
    if (!day) {
      return make_error(ErrorCode::kInternal,
                        "the server gave an unexpected service day '" + day_text + "'");
    }
    const std::chrono::year_month_day next{std::chrono::sys_days(*day) + std::chrono::days(1)};
    const std::string sql = "CREATE TABLE IF NOT EXISTS taps_" + format_day(*day, true) +
                            " PARTITION OF taps FOR VALUES FROM ('" + format_day(*day, false) +
                            "') TO ('" + format_day(next, false) + "')";
    const std::string doing = "creating the partition of service day " + day_text;
    auto tx = Transaction::begin(*db);
    if (!tx) return std::unexpected(tx.error());
    // Two nodes creating the same partition at once would otherwise collide in the catalog.
    auto locked = query("SELECT pg_advisory_xact_lock($1, $2)",
                        Params().int4(kLockClass).int4(kLockPartitions), doing);
    if (!locked) return std::unexpected(locked.error());
    if (auto s = command(sql, doing); !s) return s;
    return tx->commit();
  }

  // Creates, in transactions of their own, the partitions of every service day of the batch
  // not known to exist yet. Creating a partition locks the whole taps table for a moment, so it
  // is kept out of the batch transaction.
  Status ensure_partitions(std::span<const v1::TapRecord> taps) {
    std::vector<std::int64_t> times;
    times.reserve(taps.size());
    for (const auto& tap : taps) times.push_back(tap.tap_time_utc_ms());
    std::sort(times.begin(), times.end());
    times.erase(std::unique(times.begin(), times.end()), times.end());
    auto days = query("SELECT DISTINCT to_char(" + service_day_sql("u.t", "$2", "$3") +
                          ", 'YYYY-MM-DD') FROM unnest($1::bigint[]) AS u(t)",
                      Params()
                          .int8_array(times)
                          .text(rule.time_zone)
                          .int4(static_cast<std::int32_t>(rule.cut.count())),
                      "finding the service days of a batch");
    if (!days) return std::unexpected(days.error());
    if (auto s = days->expect({kTextOid}, "finding the service days of a batch"); !s) return s;
    for (int row = 0; row < days->size(); ++row) {
      std::string day(days->bytes(row, 0));
      if (partitions.contains(day)) continue;
      if (auto s = create_partition(day); !s) return s;
      partitions.insert(std::move(day));
    }
    return {};
  }

  // --- the batch path ---

  static std::string copy_data(std::span<const v1::TapRecord> taps,
                               const std::vector<std::string>& records) {
    std::string data = postgres::copy_binary_header();
    for (std::size_t i = 0; i < taps.size(); ++i) {
      const auto& tap = taps[i];
      append_be(data, 5, 2);
      append_be(data, 4, 4);
      append_be(data, static_cast<std::uint32_t>(i), 4);
      append_be(data, 8, 4);
      append_be(data, tap.seq(), 8);
      append_be(data, 8, 4);
      append_be(data, static_cast<std::uint64_t>(tap.tap_time_utc_ms()), 8);
      append_be(data, tap.card_token().size(), 4);
      data += tap.card_token();
      append_be(data, records[i].size(), 4);
      data += records[i];
    }
    append_be(data, 0xFFFF, 2);  // trailer: field count -1
    return data;
  }

  Result<BatchOutcome> store_batch(std::string_view device_id, std::span<const v1::TapRecord> taps,
                                   const std::vector<std::string>& records) {
    if (auto s = ensure_partitions(taps); !s) return std::unexpected(s.error());

    auto tx = Transaction::begin(*db);
    if (!tx) return std::unexpected(tx.error());

    // The device row, locked until commit: batches of one device serialize on it, whichever
    // node received them, so the watermark below is computed from every earlier commit. Batches
    // of other devices do not wait.
    auto device = query(
        "INSERT INTO devices AS d (device_id, stored_through_seq, max_seq, tap_count)"
        " VALUES ($1, 0, 0, 0) ON CONFLICT (device_id)"
        " DO UPDATE SET stored_through_seq = d.stored_through_seq"
        " RETURNING stored_through_seq, max_seq, tap_count",
        Params().text(device_id), "locking the device row");
    if (!device) return std::unexpected(device.error());
    if (auto s = device->expect({kInt8Oid, kInt8Oid, kInt8Oid}, "locking the device row"); !s) {
      return std::unexpected(s.error());
    }
    const std::int64_t stored_through = device->int8(0, 0);

    for (const auto& record : records) {
      if (record.size() > static_cast<std::size_t>(INT32_MAX) / 2) {
        return make_error(ErrorCode::kInvalidArgument, "a tap record is too large");
      }
    }
    if (auto s = db->copy_in("COPY pg_temp.faregate_staging"
                         " (ord, seq, tap_time_utc_ms, card_token, record)"
                         " FROM STDIN (FORMAT binary)",
                         copy_data(taps, records), "copying the batch to the staging table");
        !s) {
      return std::unexpected(s.error());
    }

    // First occurrence of each seq (a batch may carry one seq twice), its service day, its key
    // (the arbiter: ON CONFLICT DO NOTHING keeps what is held), and the tap itself, in one
    // statement.
    auto inserted = query(
        "WITH first AS MATERIALIZED ("
        "  SELECT DISTINCT ON (seq) seq, tap_time_utc_ms, card_token, record, " +
            service_day_sql("tap_time_utc_ms", "$2", "$3") +
            " AS service_day FROM pg_temp.faregate_staging ORDER BY seq, ord),"
            " keys AS ("
            "  INSERT INTO tap_keys (device_id, seq, service_day)"
            "  SELECT $1, seq, service_day FROM first"
            "  ON CONFLICT (device_id, seq) DO NOTHING RETURNING seq, service_day),"
            " stored AS ("
            "  INSERT INTO taps (device_id, seq, service_day, tap_time_utc_ms, card_token, record)"
            "  SELECT $1, f.seq, k.service_day, f.tap_time_utc_ms, f.card_token, f.record"
            "  FROM keys AS k JOIN first AS f USING (seq) RETURNING seq)"
            " SELECT count(*)::bigint, coalesce(max(seq), 0)::bigint,"
            " coalesce(bool_or(seq = $4), false) FROM stored",
        Params()
            .text(device_id)
            .text(rule.time_zone)
            .int4(static_cast<std::int32_t>(rule.cut.count()))
            .int8(stored_through + 1),
        "storing the batch");
    if (!inserted) {
      // A partition dropped behind our back shows up here: look again next time.
      partitions.clear();
      return std::unexpected(inserted.error());
    }
    if (auto s = inserted->expect({kInt8Oid, kInt8Oid, kBoolOid}, "storing the batch"); !s) {
      return std::unexpected(s.error());
    }
    BatchOutcome outcome;
    outcome.inserted = static_cast<std::uint32_t>(inserted->int8(0, 0));
    const std::int64_t max_inserted = inserted->int8(0, 1);
    const bool next_arrived = inserted->boolean(0, 2);

    if (outcome.inserted < taps.size()) {
      // Every tap of the batch now has a held version (its own, or an earlier one): the same
      // bytes make a duplicate, other bytes a conflict, kept with both versions.
      auto compared = query(
          "WITH compared AS ("
          "  SELECT s.seq, s.record, t.record AS held, s.record = t.record AS same"
          "  FROM pg_temp.faregate_staging AS s"
          "  JOIN tap_keys AS k ON k.device_id = $1 AND k.seq = s.seq"
          "  JOIN taps AS t ON t.device_id = $1 AND t.seq = k.seq"
          "   AND t.service_day = k.service_day),"
          " recorded AS ("
          "  INSERT INTO conflicts (device_id, seq, held_record, received_record,"
          "   received_at_utc_ms)"
          "  SELECT $1, seq, held, record, $2 FROM compared WHERE NOT same"
          "  ON CONFLICT (device_id, seq, received_digest) DO NOTHING)"
          " SELECT count(*) FILTER (WHERE same)::bigint, count(*) FILTER (WHERE NOT same)::bigint"
          " FROM compared",
          Params().text(device_id).int8(now_utc_ms()), "comparing resent taps");
      if (!compared) return std::unexpected(compared.error());
      if (auto s = compared->expect({kInt8Oid, kInt8Oid}, "comparing resent taps"); !s) {
        return std::unexpected(s.error());
      }
      const std::int64_t same = compared->int8(0, 0);
      const std::int64_t different = compared->int8(0, 1);
      if (same + different != static_cast<std::int64_t>(taps.size()) ||
          same < static_cast<std::int64_t>(outcome.inserted)) {
        return make_error(ErrorCode::kCorrupt,
                          "device " + std::string(device_id) +
                              ": a held key has no tap row (was a partition dropped?)");
      }
      outcome.duplicates = static_cast<std::uint32_t>(same - outcome.inserted);
      outcome.conflicts = static_cast<std::uint32_t>(different);
    }

    outcome.stored_through_seq = static_cast<std::uint64_t>(stored_through);
    if (outcome.inserted > 0) {
      // The watermark can only move if its next seq arrived now: every seq above it that was
      // held before was already scanned past when it arrived. It then moves to the end of the
      // run of consecutive seqs that starts there (seq - row_number is constant along a run).
      auto updated = query(
          "UPDATE devices AS d SET"
          " stored_through_seq = CASE WHEN $2 THEN coalesce(("
          "   SELECT max(run.seq) FROM ("
          "     SELECT seq, seq - row_number() OVER (ORDER BY seq) AS offset_in_run"
          "     FROM tap_keys WHERE device_id = $1 AND seq > d.stored_through_seq) AS run"
          "   WHERE run.offset_in_run = d.stored_through_seq), d.stored_through_seq)"
          "  ELSE d.stored_through_seq END,"
          " max_seq = greatest(d.max_seq, $3),"
          " tap_count = d.tap_count + $4"
          " WHERE d.device_id = $1 RETURNING stored_through_seq",
          Params()
              .text(device_id)
              .boolean(next_arrived)
              .int8(max_inserted)
              .int8(static_cast<std::int64_t>(outcome.inserted)),
          "updating the device watermark");
      if (!updated) return std::unexpected(updated.error());
      if (auto s = updated->expect({kInt8Oid}, "updating the device watermark"); !s) {
        return std::unexpected(s.error());
      }
      outcome.stored_through_seq = static_cast<std::uint64_t>(updated->int8(0, 0));
    }
    if (auto s = tx->commit(); !s) return std::unexpected(s.error());
    return outcome;
  }

  Result<std::uint64_t> stored_through(std::string_view device_id) {
    auto rows = query("SELECT stored_through_seq FROM devices WHERE device_id = $1",
                      Params().text(device_id), "reading the device watermark");
    if (!rows) return std::unexpected(rows.error());
    if (auto s = rows->expect({kInt8Oid}, "reading the device watermark"); !s) {
      return std::unexpected(s.error());
    }
    return rows->size() == 0 ? 0 : static_cast<std::uint64_t>(rows->int8(0, 0));
  }
};

// ---------------------------------------------------------------------------------------------

PostgresqlTapStore::PostgresqlTapStore(ServiceDayRule rule, std::unique_ptr<Impl> impl)
    : rule_(std::move(rule)), impl_(std::move(impl)) {}

PostgresqlTapStore::~PostgresqlTapStore() = default;

Result<std::unique_ptr<PostgresqlTapStore>> PostgresqlTapStore::open(
    std::string_view conninfo, PostgresqlTapStoreOptions options) {
  if (options.service_day_rule) {
    const auto cut = options.service_day_rule->cut;
    if (cut < std::chrono::minutes(0) || cut >= std::chrono::hours(24)) {
      return make_error(ErrorCode::kInvalidArgument, "the service-day cut must be in [0, 24h)");
    }
    if (options.service_day_rule->time_zone.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "empty service-day time zone");
    }
  }
  if (options.lock_timeout < std::chrono::milliseconds(1)) {
    return make_error(ErrorCode::kInvalidArgument, "lock_timeout must be at least 1 ms");
  }
  auto impl = std::make_unique<Impl>();
  auto db = postgres::Connection::open(conninfo, options.connect_timeout.count(),
                                       "faregate-backoffice");
  if (!db) return std::unexpected(db.error());
  impl->db.emplace(std::move(*db));
  impl->options = std::move(options);
  const std::string context = std::string("opening tap store in database ") +
                              PQdb(impl->db->get()) + " on " + PQhost(impl->db->get()) + ":" +
                              PQport(impl->db->get());
  if (auto s = impl->setup_session(); !s) return with_context(s.error(), context);
  auto rule = impl->prepare_schema(impl->options.service_day_rule);
  if (!rule) return with_context(rule.error(), context);
  impl->rule = *rule;
  return std::unique_ptr<PostgresqlTapStore>(new PostgresqlTapStore(*rule, std::move(impl)));
}

Result<BatchOutcome> PostgresqlTapStore::store_batch(std::string_view device_id,
                                                     std::span<const v1::TapRecord> taps) {
  if (auto s = detail::check_batch(device_id, taps); !s) return std::unexpected(s.error());
  // Serialize before taking the lock: it is the CPU-heavy part and needs no database.
  auto records = detail::serialize_batch(taps);
  if (!records) return std::unexpected(records.error());
  std::lock_guard lock(mutex_);
  if (taps.empty()) {
    auto through = impl_->run([&] { return impl_->stored_through(device_id); });
    if (!through) return std::unexpected(through.error());
    return BatchOutcome{.stored_through_seq = *through};
  }
  return impl_->run([&] { return impl_->store_batch(device_id, taps, *records); });
}

Result<std::uint64_t> PostgresqlTapStore::stored_through(std::string_view device_id) {
  std::lock_guard lock(mutex_);
  return impl_->run([&] { return impl_->stored_through(device_id); });
}

Result<std::uint64_t> PostgresqlTapStore::tap_count() {
  std::lock_guard lock(mutex_);
  return impl_->run([&]() -> Result<std::uint64_t> {
    auto rows = impl_->query("SELECT coalesce(sum(tap_count), 0)::bigint FROM devices", Params(),
                             "counting taps");
    if (!rows) return std::unexpected(rows.error());
    if (auto s = rows->expect({kInt8Oid}, "counting taps"); !s) return std::unexpected(s.error());
    return static_cast<std::uint64_t>(rows->int8(0, 0));
  });
}

Result<std::vector<DeviceSummary>> PostgresqlTapStore::device_summaries() {
  std::lock_guard lock(mutex_);
  return impl_->run([&]() -> Result<std::vector<DeviceSummary>> {
    auto rows = impl_->query(
        "SELECT device_id, stored_through_seq, max_seq, tap_count FROM devices"
        " ORDER BY device_id COLLATE \"C\"",
        Params(), "listing devices");
    if (!rows) return std::unexpected(rows.error());
    if (auto s = rows->expect({kTextOid, kInt8Oid, kInt8Oid, kInt8Oid}, "listing devices"); !s) {
      return std::unexpected(s.error());
    }
    std::vector<DeviceSummary> summaries;
    summaries.reserve(static_cast<std::size_t>(rows->size()));
    for (int row = 0; row < rows->size(); ++row) {
      DeviceSummary summary;
      summary.device_id = std::string(rows->bytes(row, 0));
      summary.stored_through_seq = static_cast<std::uint64_t>(rows->int8(row, 1));
      summary.max_seq = static_cast<std::uint64_t>(rows->int8(row, 2));
      summary.tap_count = static_cast<std::uint64_t>(rows->int8(row, 3));
      // Every held seq is in 1..max_seq, so what is not held below max_seq is the difference.
      summary.missing =
          summary.max_seq > summary.tap_count ? summary.max_seq - summary.tap_count : 0;
      summaries.push_back(std::move(summary));
    }
    return summaries;
  });
}

Result<std::vector<Conflict>> PostgresqlTapStore::conflicts() {
  std::lock_guard lock(mutex_);
  return impl_->run([&]() -> Result<std::vector<Conflict>> {
    auto rows = impl_->query(
        "SELECT device_id, seq, held_record, received_record, received_at_utc_ms"
        " FROM conflicts ORDER BY id",
        Params(), "listing conflicts");
    if (!rows) return std::unexpected(rows.error());
    if (auto s =
            rows->expect({kTextOid, kInt8Oid, kByteaOid, kByteaOid, kInt8Oid}, "listing conflicts");
        !s) {
      return std::unexpected(s.error());
    }
    std::vector<Conflict> conflicts;
    for (int row = 0; row < rows->size(); ++row) {
      Conflict conflict;
      conflict.device_id = std::string(rows->bytes(row, 0));
      const std::int64_t seq = rows->int8(row, 1);
      conflict.seq = static_cast<std::uint64_t>(seq);
      auto held = detail::parse_record(rows->bytes(row, 2), conflict.device_id, seq);
      if (!held) return std::unexpected(held.error());
      auto received = detail::parse_record(rows->bytes(row, 3), conflict.device_id, seq);
      if (!received) return std::unexpected(received.error());
      conflict.held = std::move(*held);
      conflict.received = std::move(*received);
      conflict.received_at_utc_ms = rows->int8(row, 4);
      conflicts.push_back(std::move(conflict));
    }
    return conflicts;
  });
}

Result<std::vector<v1::TapRecord>> PostgresqlTapStore::taps_of_device(std::string_view device_id,
                                                                      std::uint64_t from_seq,
                                                                      std::size_t limit) {
  std::vector<v1::TapRecord> taps;
  if (limit == 0 || from_seq > kMaxSeq) return taps;
  const std::uint64_t last = detail::last_seq_of_range(from_seq, limit);
  std::lock_guard lock(mutex_);
  return impl_->run([&]() -> Result<std::vector<v1::TapRecord>> {
    auto rows = impl_->query(
        "SELECT seq, record FROM taps WHERE device_id = $1 AND seq BETWEEN $2 AND $3"
        " ORDER BY seq",
        Params()
            .text(device_id)
            .int8(static_cast<std::int64_t>(from_seq))
            .int8(static_cast<std::int64_t>(last)),
        "reading taps");
    if (!rows) return std::unexpected(rows.error());
    if (auto s = rows->expect({kInt8Oid, kByteaOid}, "reading taps"); !s) {
      return std::unexpected(s.error());
    }
    std::vector<v1::TapRecord> found;
    found.reserve(static_cast<std::size_t>(rows->size()));
    for (int row = 0; row < rows->size(); ++row) {
      auto record = detail::parse_record(rows->bytes(row, 1), device_id, rows->int8(row, 0));
      if (!record) return std::unexpected(record.error());
      found.push_back(std::move(*record));
    }
    return found;
  });
}

}  // namespace faregate::store
