#include "backoffice/farerun/sharded_fare_run.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backoffice/postgres/pg_connection.h"
#include "backoffice/recon/tap_book.h"
#include "common/crypto.h"
#include "faregate/v1/tap.pb.h"

namespace faregate::farerun {

namespace {

using postgres::append_be;
using postgres::kByteaOid;
using postgres::kInt4Oid;
using postgres::kInt8Oid;
using postgres::kTextOid;
using postgres::Params;
using postgres::Transaction;

constexpr std::string_view kApplication = "faregate-fare-run";
constexpr std::string_view kTapStoreApplication = "faregate-tap-store";

// pg_advisory_xact_lock(int, int) keys: 'FGFR', then what the lock serializes.
constexpr std::int32_t kLockClass = 0x46474652;
constexpr std::int32_t kLockSchema = 1;

constexpr std::uint32_t kMaxShards = 65536;

// The shard of taps.card_token, as shard_of() computes it: the first four bytes of its SHA-256,
// big-endian, modulo the shard count ($N).
std::string shard_sql(std::string_view shards_param) {
  return "((get_byte(h.d, 0)::bigint << 24 | get_byte(h.d, 1)::bigint << 16"
         " | get_byte(h.d, 2)::bigint << 8 | get_byte(h.d, 3)::bigint) % " +
         std::string(shards_param) + ")";
}

// kMigrations[i] takes the fare-run tables from version i to i + 1. Append only.
constexpr std::array<std::string_view, 1> kMigrations = {
    R"sql(
CREATE TABLE fare_run_meta (
  id integer PRIMARY KEY CHECK (id = 1),
  application text NOT NULL,
  schema_version integer NOT NULL
);
CREATE TABLE fare_runs (
  run_id text PRIMARY KEY,
  first_day date NOT NULL,
  last_day date NOT NULL,
  shards integer NOT NULL CHECK (shards >= 1),
  history_days integer NOT NULL CHECK (history_days >= 0),
  created_at_utc_ms bigint NOT NULL
);
-- One row per shard of a run: the unit of work. Claimed with FOR UPDATE SKIP LOCKED; done once
-- done_at_utc_ms is set, in the same transaction that wrote its results.
CREATE TABLE fare_run_shards (
  run_id text NOT NULL REFERENCES fare_runs (run_id),
  shard integer NOT NULL,
  done_at_utc_ms bigint,
  worker_id text,
  taps bigint NOT NULL DEFAULT 0,
  cards bigint NOT NULL DEFAULT 0,
  card_days bigint NOT NULL DEFAULT 0,
  total bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, shard)
);
-- The priced card-days. The key makes a re-run rewrite a row instead of adding one.
CREATE TABLE fare_results (
  card_token bytea NOT NULL,
  service_day date NOT NULL,
  currency text NOT NULL,
  legs integer NOT NULL,
  orphan_taps integer NOT NULL,
  unpriced_legs integer NOT NULL,
  maximum_fare_legs integer NOT NULL,
  fare_total bigint NOT NULL,
  transfer_discount bigint NOT NULL,
  cap_discount bigint NOT NULL,
  total bigint NOT NULL,
  run_id text NOT NULL,
  shard integer NOT NULL,
  worker_id text NOT NULL,
  priced_at_utc_ms bigint NOT NULL,
  PRIMARY KEY (card_token, service_day)
);
)sql",
};
constexpr std::int32_t kSchemaVersion = static_cast<std::int32_t>(kMigrations.size());

}  // namespace

std::uint32_t shard_of(ByteView card_token, std::uint32_t shards) {
  if (shards == 0) return 0;
  const auto digest = crypto::sha256(card_token);
  const std::uint32_t prefix = (std::uint32_t{digest[0]} << 24) | (std::uint32_t{digest[1]} << 16) |
                               (std::uint32_t{digest[2]} << 8) | std::uint32_t{digest[3]};
  return prefix % shards;
}

struct ShardedFareRun::Impl {
  // Set by open(); always present afterwards.
  std::optional<postgres::Connection> db;
  const fares::FarePolicy* policy = nullptr;
  const fares::EntitlementRegistry* entitlements = nullptr;
  ShardedFareRunOptions options;

  Result<postgres::Rows> query(std::string_view sql, const Params& params,
                               std::string_view doing) {
    return db->query(sql, params, doing);
  }
  Status command(std::string_view sql, std::string_view doing) { return db->command(sql, doing); }

  Status setup_session() {
    // Claims never wait (SKIP LOCKED); this bounds the other waits (a shard row being created).
    if (auto s = command("SET lock_timeout = '10s'", "configuring the session"); !s) return s;
    return command(
        "CREATE TEMPORARY TABLE IF NOT EXISTS faregate_fare_staging ("
        " card_token bytea NOT NULL, day integer NOT NULL, legs integer NOT NULL,"
        " orphan_taps integer NOT NULL, unpriced_legs integer NOT NULL,"
        " maximum_fare_legs integer NOT NULL, fare_total bigint NOT NULL,"
        " transfer_discount bigint NOT NULL, cap_discount bigint NOT NULL, total bigint NOT NULL)"
        " ON COMMIT DELETE ROWS",
        "creating the staging table");
  }

  // A live connection with no transaction open: reconnects after the server went away.
  Status ready() {
    return db->ready([this] { return setup_session(); });
  }

  std::int64_t now_utc_ms() const {
    if (options.utc_now_ms) return options.utc_now_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  Status prepare_schema() {
    auto tx = Transaction::begin(*db);
    if (!tx) return std::unexpected(tx.error());
    if (auto locked = query("SELECT pg_advisory_xact_lock($1, $2)",
                            Params().int4(kLockClass).int4(kLockSchema), "locking the schema");
        !locked) {
      return std::unexpected(locked.error());
    }
    auto tables = query(
        "SELECT c.relname::text FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relname IN"
        " ('store_meta', 'fare_run_meta', 'fare_runs', 'fare_run_shards', 'fare_results')",
        Params(), "listing the schema's tables");
    if (!tables) return std::unexpected(tables.error());
    std::set<std::string> present;
    for (int row = 0; row < tables->size(); ++row) present.emplace(tables->bytes(row, 0));
    if (!present.contains("store_meta")) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the connection's schema holds no tap store (no store_meta table)");
    }
    auto store = query("SELECT application FROM store_meta WHERE id = 1", Params(),
                       "reading the tap store identity");
    if (!store) return std::unexpected(store.error());
    if (store->size() != 1 || store->bytes(0, 0) != kTapStoreApplication) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the connection's schema holds no tap store (store_meta is another's)");
    }
    if (present.contains("fare_run_meta")) {
      auto meta = query("SELECT application, schema_version FROM fare_run_meta WHERE id = 1",
                        Params(), "reading the fare-run identity");
      if (!meta) return std::unexpected(meta.error());
      if (auto s = meta->expect({kTextOid, kInt4Oid}, "reading the fare-run identity"); !s) return s;
      if (meta->size() != 1 || meta->bytes(0, 0) != kApplication) {
        return make_error(ErrorCode::kCorrupt, "fare_run_meta is not a fare run's");
      }
      const std::int32_t version = meta->int4(0, 1);
      if (version > kSchemaVersion || version < 1) {
        return make_error(ErrorCode::kCorrupt, "fare-run schema version " +
                                                   std::to_string(version) +
                                                   " is not supported by this program");
      }
      // Later versions: run kMigrations[version..] here, under the lock this transaction holds.
    } else {
      for (const char* table : {"fare_runs", "fare_run_shards", "fare_results"}) {
        if (present.contains(table)) {
          return make_error(ErrorCode::kCorrupt, std::string("the schema already holds a table ") +
                                                     table + " that is not a fare run's");
        }
      }
      for (const auto& migration : kMigrations) {
        if (auto s = command(migration, "creating the fare-run tables"); !s) return s;
      }
      if (auto s = query("INSERT INTO fare_run_meta (id, application, schema_version)"
                         " VALUES (1, $1, $2)",
                         Params().text(kApplication).int4(kSchemaVersion),
                         "recording the fare-run identity");
          !s) {
        return std::unexpected(s.error());
      }
    }
    return tx->commit();
  }

  Result<FareRunPlan> read_plan(std::string_view run_id) {
    auto rows = query(
        "SELECT (first_day - date '1970-01-01')::integer, (last_day - date '1970-01-01')::integer,"
        " shards, history_days FROM fare_runs WHERE run_id = $1",
        Params().text(run_id), "reading the run");
    if (!rows) return std::unexpected(rows.error());
    if (auto s = rows->expect({kInt4Oid, kInt4Oid, kInt4Oid, kInt4Oid}, "reading the run"); !s) {
      return std::unexpected(s.error());
    }
    if (rows->size() == 0) {
      return make_error(ErrorCode::kNotFound, "no fare run '" + std::string(run_id) + "'");
    }
    FareRunPlan plan;
    plan.run_id = std::string(run_id);
    plan.first_day = rows->int4(0, 0);
    plan.last_day = rows->int4(0, 1);
    plan.shards = static_cast<std::uint32_t>(rows->int4(0, 2));
    plan.history_days = rows->int4(0, 3);
    return plan;
  }

  Status create_run(const FareRunPlan& plan) {
    auto tx = Transaction::begin(*db);
    if (!tx) return std::unexpected(tx.error());
    auto inserted = query(
        "INSERT INTO fare_runs (run_id, first_day, last_day, shards, history_days,"
        " created_at_utc_ms) VALUES ($1, date '1970-01-01' + $2, date '1970-01-01' + $3, $4, $5,"
        " $6) ON CONFLICT (run_id) DO NOTHING RETURNING run_id",
        Params()
            .text(plan.run_id)
            .int4(plan.first_day)
            .int4(plan.last_day)
            .int4(static_cast<std::int32_t>(plan.shards))
            .int4(plan.history_days)
            .int8(now_utc_ms()),
        "creating the run");
    if (!inserted) return std::unexpected(inserted.error());
    auto held = read_plan(plan.run_id);
    if (!held) return std::unexpected(held.error());
    if (!(*held == plan)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "fare run '" + plan.run_id + "' exists with another plan");
    }
    // The shards were created with the run, in one transaction. Not touching them again
    // matters: a shard row some worker holds would make even ON CONFLICT DO NOTHING wait.
    if (inserted->size() == 0) return tx->commit();
    auto shards = query(
        "INSERT INTO fare_run_shards (run_id, shard) SELECT $1, s FROM generate_series(0, $2 - 1)"
        " AS s ON CONFLICT (run_id, shard) DO NOTHING",
        Params().text(plan.run_id).int4(static_cast<std::int32_t>(plan.shards)),
        "creating the run's shards");
    if (!shards) return std::unexpected(shards.error());
    return tx->commit();
  }

  static std::string copy_rows(const fares::PricingResult& pricing, const FareRunPlan& plan,
                               ShardOutcome& outcome) {
    std::string data = postgres::copy_binary_header();
    const fares::CardToken* last_card = nullptr;
    for (const auto& day : pricing.days) {
      if (day.service_day < plan.first_day || day.service_day > plan.last_day) continue;
      const ByteView token = day.card.bytes();
      append_be(data, 10, 2);
      append_be(data, token.size(), 4);
      data.append(reinterpret_cast<const char*>(token.data()), token.size());
      auto int4 = [&data](std::uint32_t value) {
        append_be(data, 4, 4);
        append_be(data, value, 4);
      };
      auto int8 = [&data](std::int64_t value) {
        append_be(data, 8, 4);
        append_be(data, static_cast<std::uint64_t>(value), 8);
      };
      int4(static_cast<std::uint32_t>(day.service_day));
      int4(day.leg_count);
      int4(day.orphan_count);
      int4(day.unpriced_legs);
      int4(day.maximum_fare_legs);
      int8(day.fare_total);
      int8(day.transfer_discount);
      int8(day.cap_discount);
      int8(day.total);
      ++outcome.card_days;
      outcome.total += day.total;
      // pricing.days is sorted by card, then day.
      if (last_card == nullptr || !(*last_card == day.card)) ++outcome.cards;
      last_card = &day.card;
    }
    append_be(data, 0xFFFF, 2);
    return data;
  }

  // Claims one pending shard and prices it in one transaction. Returns nullopt when no shard is
  // left to claim.
  Result<std::optional<ShardOutcome>> work_one(const FareRunPlan& plan,
                                               std::string_view worker_id) {
    auto tx = Transaction::begin(*db);
    if (!tx) return std::unexpected(tx.error());
    auto claimed = query(
        "SELECT shard FROM fare_run_shards WHERE run_id = $1 AND done_at_utc_ms IS NULL"
        " ORDER BY shard LIMIT 1 FOR UPDATE SKIP LOCKED",
        Params().text(plan.run_id), "claiming a shard");
    if (!claimed) return std::unexpected(claimed.error());
    if (auto s = claimed->expect({kInt4Oid}, "claiming a shard"); !s) {
      return std::unexpected(s.error());
    }
    if (claimed->size() == 0) return std::optional<ShardOutcome>{};
    ShardOutcome outcome;
    outcome.shard = static_cast<std::uint32_t>(claimed->int4(0, 0));

    // The store's service days may be cut in another time zone or at another hour than the
    // engine's: two days of margin on each side cover any pair of rules, and only the engine's
    // days inside the plan are written.
    const std::int32_t read_from = plan.first_day - plan.history_days - 2;
    const std::int32_t read_to = plan.last_day + 2;
    auto taps = query(
        "SELECT t.record FROM taps AS t CROSS JOIN LATERAL (SELECT sha256(t.card_token) AS d) AS h"
        " WHERE t.service_day BETWEEN date '1970-01-01' + $1 AND date '1970-01-01' + $2"
        " AND " + shard_sql("$3") + " = $4 ORDER BY t.device_id COLLATE \"C\", t.seq",
        Params()
            .int4(read_from)
            .int4(read_to)
            .int8(static_cast<std::int64_t>(plan.shards))
            .int8(static_cast<std::int64_t>(outcome.shard)),
        "reading the shard's taps");
    if (!taps) return std::unexpected(taps.error());
    if (auto s = taps->expect({kByteaOid}, "reading the shard's taps"); !s) {
      return std::unexpected(s.error());
    }
    std::vector<v1::TapRecord> records(static_cast<std::size_t>(taps->size()));
    for (int row = 0; row < taps->size(); ++row) {
      const std::string_view bytes = taps->bytes(row, 0);
      if (bytes.size() > static_cast<std::size_t>(INT_MAX) ||
          !records[static_cast<std::size_t>(row)].ParseFromArray(bytes.data(),
                                                                static_cast<int>(bytes.size()))) {
        return make_error(ErrorCode::kCorrupt, "a stored tap record does not parse");
      }
    }
    outcome.taps = records.size();
    // The engine orders taps of equal time by device number, and TapBook numbers devices in the
    // order it first sees them. Records come in device_id order (as recon::price_tap_store
    // reads them), so every worker, and one process pricing the whole store, order alike.
    recon::TapBook book(*policy, options.engine.service_day_start_s);
    book.add(records);
    const fares::FareEngine engine(*policy, options.engine);
    const auto pricing = engine.price(book.taps(), *entitlements);

    if (auto s = db->copy_in("COPY pg_temp.faregate_fare_staging FROM STDIN (FORMAT binary)",
                         copy_rows(pricing, plan, outcome), "copying the shard's results");
        !s) {
      return std::unexpected(s.error());
    }
    const std::int64_t now = now_utc_ms();
    auto written = query(
        "INSERT INTO fare_results AS r (card_token, service_day, currency, legs, orphan_taps,"
        " unpriced_legs, maximum_fare_legs, fare_total, transfer_discount, cap_discount, total,"
        " run_id, shard, worker_id, priced_at_utc_ms)"
        " SELECT card_token, date '1970-01-01' + day, $1, legs, orphan_taps, unpriced_legs,"
        " maximum_fare_legs, fare_total, transfer_discount, cap_discount, total, $2, $3, $4, $5"
        " FROM pg_temp.faregate_fare_staging"
        " ON CONFLICT (card_token, service_day) DO UPDATE SET currency = excluded.currency,"
        " legs = excluded.legs, orphan_taps = excluded.orphan_taps,"
        " unpriced_legs = excluded.unpriced_legs, maximum_fare_legs = excluded.maximum_fare_legs,"
        " fare_total = excluded.fare_total, transfer_discount = excluded.transfer_discount,"
        " cap_discount = excluded.cap_discount, total = excluded.total,"
        " run_id = excluded.run_id, shard = excluded.shard, worker_id = excluded.worker_id,"
        " priced_at_utc_ms = excluded.priced_at_utc_ms",
        Params()
            .text(policy->currency.str())
            .text(plan.run_id)
            .int4(static_cast<std::int32_t>(outcome.shard))
            .text(worker_id)
            .int8(now),
        "writing the shard's results");
    if (!written) return std::unexpected(written.error());
    auto done = query(
        "UPDATE fare_run_shards SET done_at_utc_ms = $3, worker_id = $4, taps = $5, cards = $6,"
        " card_days = $7, total = $8 WHERE run_id = $1 AND shard = $2",
        Params()
            .text(plan.run_id)
            .int4(static_cast<std::int32_t>(outcome.shard))
            .int8(now)
            .text(worker_id)
            .int8(static_cast<std::int64_t>(outcome.taps))
            .int8(static_cast<std::int64_t>(outcome.cards))
            .int8(static_cast<std::int64_t>(outcome.card_days))
            .int8(outcome.total),
        "marking the shard done");
    if (!done) return std::unexpected(done.error());
    if (options.before_commit) {
      if (auto s = options.before_commit(outcome.shard); !s) return std::unexpected(s.error());
    }
    if (auto s = tx->commit(); !s) return std::unexpected(s.error());
    return std::optional<ShardOutcome>{outcome};
  }
};

ShardedFareRun::ShardedFareRun(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ShardedFareRun::~ShardedFareRun() = default;

Result<std::unique_ptr<ShardedFareRun>> ShardedFareRun::open(
    std::string_view conninfo, const fares::FarePolicy& policy,
    const fares::EntitlementRegistry& entitlements, ShardedFareRunOptions options) {
  auto db = postgres::Connection::open(conninfo, /*connect_timeout_s=*/10, "faregate-fare-run");
  if (!db) return std::unexpected(db.error());
  auto impl = std::make_unique<Impl>();
  impl->db.emplace(std::move(*db));
  impl->policy = &policy;
  impl->entitlements = &entitlements;
  impl->options = std::move(options);
  if (auto s = impl->setup_session(); !s) return std::unexpected(s.error());
  if (auto s = impl->prepare_schema(); !s) return std::unexpected(s.error());
  return std::unique_ptr<ShardedFareRun>(new ShardedFareRun(std::move(impl)));
}

Status ShardedFareRun::create_run(const FareRunPlan& plan) {
  if (plan.run_id.empty() || plan.run_id.size() > 200) {
    return make_error(ErrorCode::kInvalidArgument, "a run id has 1 to 200 characters");
  }
  if (plan.shards < 1 || plan.shards > kMaxShards) {
    return make_error(ErrorCode::kInvalidArgument, "shards must be in [1, 65536]");
  }
  if (plan.first_day > plan.last_day) {
    return make_error(ErrorCode::kInvalidArgument, "the first service day is after the last");
  }
  // Keeps every date the run reads within PostgreSQL's date range and int32 arithmetic.
  constexpr std::int32_t kDayLimit = 2'900'000;
  if (plan.first_day < -kDayLimit || plan.last_day > kDayLimit || plan.history_days < 0 ||
      plan.history_days > 3660) {
    return make_error(ErrorCode::kInvalidArgument, "service days or history out of range");
  }
  if (auto s = impl_->ready(); !s) return s;
  return impl_->create_run(plan);
}

Result<WorkerReport> ShardedFareRun::work(std::string_view run_id, std::string_view worker_id) {
  if (auto s = impl_->ready(); !s) return std::unexpected(s.error());
  auto plan = impl_->read_plan(run_id);
  if (!plan) return std::unexpected(plan.error());
  WorkerReport report;
  report.worker_id = std::string(worker_id);
  for (;;) {
    auto outcome = impl_->work_one(*plan, worker_id);
    if (!outcome) return std::unexpected(outcome.error());
    if (!*outcome) break;
    report.shards.push_back(**outcome);
  }
  return report;
}

Result<RunProgress> ShardedFareRun::progress(std::string_view run_id) {
  if (auto s = impl_->ready(); !s) return std::unexpected(s.error());
  auto plan = impl_->read_plan(run_id);
  if (!plan) return std::unexpected(plan.error());
  auto rows = impl_->query(
      "SELECT count(*)::bigint, count(done_at_utc_ms)::bigint,"
      " coalesce(sum(cards), 0)::bigint, coalesce(sum(card_days), 0)::bigint,"
      " coalesce(sum(total), 0)::bigint FROM fare_run_shards WHERE run_id = $1",
      Params().text(run_id), "reading the run's progress");
  if (!rows) return std::unexpected(rows.error());
  if (auto s = rows->expect({kInt8Oid, kInt8Oid, kInt8Oid, kInt8Oid, kInt8Oid},
                            "reading the run's progress");
      !s) {
    return std::unexpected(s.error());
  }
  RunProgress progress;
  progress.shards = static_cast<std::uint32_t>(rows->int8(0, 0));
  progress.done = static_cast<std::uint32_t>(rows->int8(0, 1));
  progress.cards = static_cast<std::uint64_t>(rows->int8(0, 2));
  progress.card_days = static_cast<std::uint64_t>(rows->int8(0, 3));
  progress.total = rows->int8(0, 4);
  return progress;
}

Result<std::vector<FareResultRow>> ShardedFareRun::results(std::int32_t first_day,
                                                           std::int32_t last_day) {
  if (auto s = impl_->ready(); !s) return std::unexpected(s.error());
  auto rows = impl_->query(
      "SELECT card_token, (service_day - date '1970-01-01')::integer, currency, legs,"
      " orphan_taps, unpriced_legs, maximum_fare_legs, fare_total, transfer_discount,"
      " cap_discount, total, run_id, shard, worker_id FROM fare_results"
      " WHERE service_day BETWEEN date '1970-01-01' + $1 AND date '1970-01-01' + $2"
      " ORDER BY card_token, service_day",
      Params().int4(first_day).int4(last_day), "reading fare results");
  if (!rows) return std::unexpected(rows.error());
  if (auto s = rows->expect({kByteaOid, kInt4Oid, kTextOid, kInt4Oid, kInt4Oid, kInt4Oid, kInt4Oid,
                             kInt8Oid, kInt8Oid, kInt8Oid, kInt8Oid, kTextOid, kInt4Oid, kTextOid},
                            "reading fare results");
      !s) {
    return std::unexpected(s.error());
  }
  std::vector<FareResultRow> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int row = 0; row < rows->size(); ++row) {
    FareResultRow r;
    r.card_token = std::string(rows->bytes(row, 0));
    r.service_day = rows->int4(row, 1);
    r.currency = std::string(rows->bytes(row, 2));
    r.legs = static_cast<std::uint32_t>(rows->int4(row, 3));
    r.orphan_taps = static_cast<std::uint32_t>(rows->int4(row, 4));
    r.unpriced_legs = static_cast<std::uint32_t>(rows->int4(row, 5));
    r.maximum_fare_legs = static_cast<std::uint32_t>(rows->int4(row, 6));
    r.fare_total = rows->int8(row, 7);
    r.transfer_discount = rows->int8(row, 8);
    r.cap_discount = rows->int8(row, 9);
    r.total = rows->int8(row, 10);
    r.run_id = std::string(rows->bytes(row, 11));
    r.shard = static_cast<std::uint32_t>(rows->int4(row, 12));
    r.worker_id = std::string(rows->bytes(row, 13));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace faregate::farerun
