#pragma once
// farerun::ShardedFareRun: prices the taps of a PostgreSQL tap store (postgresql_tap_store.h)
// into per-card-day results, split across any number of workers (threads or processes, each
// with its own connection) by card token. docs/fare_run_sharding.md describes the tables and
// the protocol.
//
// Why by card token: legs, transfers and caps are computed per card token and service day (and
// week and rolling caps over a card's earlier days), so every tap of a token must be priced by
// the same worker; taps of different tokens never influence each other. Each token falls in one
// shard: shard_of(token, shards) = first four bytes of SHA-256(token), big-endian, modulo
// shards; the same expression runs in SQL, so a worker reads only its shard's taps.
//
// A run (run_id) has one row per shard in fare_run_shards. A worker claims a pending shard with
// SELECT ... FOR UPDATE SKIP LOCKED inside a transaction, reads the shard's taps, prices them,
// upserts the results into fare_results keyed (card_token, service_day), marks the shard done
// and commits. A worker that dies mid-shard holds no lock any more once PostgreSQL notices (its
// transaction is rolled back, nothing of the shard is written) and the shard is claimed by the
// next worker that asks. Re-running (the same or a new run over the same days) rewrites the same
// rows with the same values: results are idempotent.
//
// Thread safety: one object per thread; it owns one connection.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backoffice/fares/entitlement_registry.h"
#include "backoffice/fares/fare_engine.h"
#include "backoffice/fares/fare_policy.h"
#include "common/bytes.h"
#include "common/error.h"

namespace faregate::farerun {

// The shard of a card token among `shards` (>= 1). The SQL side computes the same number.
std::uint32_t shard_of(ByteView card_token, std::uint32_t shards);

struct FareRunPlan {
  std::string run_id;         // 1..200 characters
  std::int32_t first_day = 0;  // service days to price, days since 1970-01-01, inclusive
  std::int32_t last_day = 0;
  std::uint32_t shards = 64;  // 1..65536; a few times the number of workers balances well
  // Taps of this many service days before first_day are read too (and priced, not written):
  // week and rolling caps count them. 0 when the policy has daily caps only.
  std::int32_t history_days = 0;

  bool operator==(const FareRunPlan&) const = default;
};

struct ShardOutcome {
  std::uint32_t shard = 0;
  std::uint64_t taps = 0;       // tap records read (history and margins included)
  std::uint64_t cards = 0;      // distinct card tokens written
  std::uint64_t card_days = 0;  // fare_results rows written
  std::int64_t total = 0;       // sum of their totals, minor units
};

struct WorkerReport {
  std::string worker_id;
  std::vector<ShardOutcome> shards;  // in the order this worker completed them
};

struct RunProgress {
  std::uint32_t shards = 0;
  std::uint32_t done = 0;
  std::uint64_t cards = 0;
  std::uint64_t card_days = 0;
  std::int64_t total = 0;
};

// One row of fare_results.
struct FareResultRow {
  std::string card_token;     // bytes
  std::int32_t service_day = 0;
  std::string currency;
  std::uint32_t legs = 0;
  std::uint32_t orphan_taps = 0;
  std::uint32_t unpriced_legs = 0;
  std::uint32_t maximum_fare_legs = 0;
  std::int64_t fare_total = 0;
  std::int64_t transfer_discount = 0;
  std::int64_t cap_discount = 0;
  std::int64_t total = 0;
  std::string run_id;
  std::uint32_t shard = 0;
  std::string worker_id;
};

struct ShardedFareRunOptions {
  fares::EngineOptions engine{};
  // Called inside a shard's transaction once its results are written and it is marked done,
  // just before the commit. An error aborts the shard (rolled back: nothing of it is kept, it
  // stays pending) and work() returns it. For monitoring, and for tests that stop a worker
  // while it holds a shard.
  std::function<Status(std::uint32_t shard)> before_commit{};
  // Source of the time stamped on results and shards, UTC epoch ms. Empty: system clock.
  std::function<std::int64_t()> utc_now_ms{};
};

class ShardedFareRun {
 public:
  // Connects (libpq connection string, the tap store's database and schema), checks that the
  // schema holds a tap store and creates the fare-run tables if missing (several workers may
  // race: an advisory lock serializes them). `policy` and `entitlements` must outlive the
  // object. Errors: kInvalidArgument (malformed connection string, no tap store in the schema),
  // kUnavailable (cannot connect), kCorrupt (tables of these names that are not a fare run's,
  // or a newer version), kIo.
  static Result<std::unique_ptr<ShardedFareRun>> open(std::string_view conninfo,
                                                      const fares::FarePolicy& policy,
                                                      const fares::EntitlementRegistry& entitlements,
                                                      ShardedFareRunOptions options = {});
  ~ShardedFareRun();
  ShardedFareRun(const ShardedFareRun&) = delete;
  ShardedFareRun& operator=(const ShardedFareRun&) = delete;

  // Creates the run and its pending shards. Creating a run that exists with the same plan does
  // nothing (every worker may call it); with another plan fails kInvalidArgument.
  Status create_run(const FareRunPlan& plan);

  // Claims and prices pending shards of the run, one transaction each, until none is pending
  // or unclaimed (shards other workers hold are skipped, not waited for). Returns what this
  // worker did. Errors: kNotFound (no such run), kUnavailable (connection lost: the shard in
  // progress stays pending), the before_commit hook's error, kIo / kCorrupt from the server.
  Result<WorkerReport> work(std::string_view run_id, std::string_view worker_id);

  // Shards done so far and the sums over them.
  Result<RunProgress> progress(std::string_view run_id);

  // fare_results rows of the service days [first_day, last_day], ordered by token, then day.
  Result<std::vector<FareResultRow>> results(std::int32_t first_day, std::int32_t last_day);

 private:
  struct Impl;
  explicit ShardedFareRun(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace faregate::farerun
