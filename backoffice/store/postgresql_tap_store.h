#pragma once
// store::PostgresqlTapStore: the TapStore on a PostgreSQL database (libpq), for networks that
// outgrow one back-office process: any number of faregate-backoffice processes may open the same
// database and ingest at the same time. The layout and the batch path are described in
// docs/store_postgresql.md.
//
// Tables live in the connection's current schema (the first existing schema of search_path):
//   tap_keys(device_id, seq, service_day)  PRIMARY KEY (device_id, seq)  -- the uniqueness arbiter
//   taps(device_id, seq, service_day, tap_time_utc_ms, card_token, record)
//        PARTITION BY RANGE (service_day), one partition per service day, created on demand
//   conflicts(id, device_id, seq, held_record, received_record, received_digest,
//             received_at_utc_ms)  UNIQUE (device_id, seq, received_digest)
//   devices(device_id PRIMARY KEY, stored_through_seq, max_seq, tap_count)
//   store_meta(application, schema_version, service_day_time_zone, service_day_cut_minutes)
//
// Durability: store_batch returns only after PostgreSQL reported the COMMIT done (the server's
// synchronous_commit decides what "done" means; the default, on, waits for the WAL flush).
// If the connection breaks while the COMMIT is in flight the outcome is unknown: the call fails
// kUnavailable and the batch may or may not be stored. Resending is always safe (duplicates are
// counted, never stored twice), which is what the sync protocol does.
//
// A broken connection (server restart, network cut) fails the call in progress with
// kUnavailable; the next call reconnects.
//
// Thread safety: every method may be called from any thread; calls serialize on the store's one
// connection. Run one store per process (or per thread that must not wait for the others).
// Needs a direct or session-pooled connection: it keeps a temporary table per session.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "backoffice/store/tap_store.h"

namespace faregate::store {

// How taps are assigned to service days (and so to partitions): the tap's UTC time converted to
// local time in `time_zone`, minus `cut`, then its date. With the defaults a tap at 03:00 UTC
// belongs to the previous day's service.
struct ServiceDayRule {
  std::string time_zone = "UTC";  // IANA name, e.g. "Europe/Paris", as PostgreSQL knows it
  std::chrono::minutes cut{4 * 60 + 30};

  bool operator==(const ServiceDayRule&) const = default;
};

struct PostgresqlTapStoreOptions {
  // Source of the received_at time stamped on conflict rows, UTC epoch ms. Empty: system clock.
  std::function<std::int64_t()> utc_now_ms{};
  // The rule is a property of the database, recorded when the schema is created. Empty: use the
  // recorded rule (or the default rule for a new database). Set: must equal the recorded rule,
  // else open fails kInvalidArgument (two nodes cutting days differently would scatter one
  // day's taps over two partitions).
  std::optional<ServiceDayRule> service_day_rule{};
  // How long a statement waits for a lock (another node ingesting the same device, a partition
  // being created) before failing kUnavailable.
  std::chrono::milliseconds lock_timeout{5000};
  // Used when the connection string gives no connect_timeout.
  std::chrono::seconds connect_timeout{10};
};

class PostgresqlTapStore final : public TapStore {
 public:
  // Connects with a libpq connection string ("postgresql://user@host:5432/db" or key=value
  // pairs), creates the schema if the current schema has none (several nodes may race to do so:
  // an advisory lock serializes them) and checks it otherwise.
  // Errors: kInvalidArgument (malformed connection string, unknown time zone, cut outside
  // [0, 24h), a service-day rule differing from the database's), kUnavailable (cannot connect),
  // kCorrupt (the schema holds tables of these names that are not a tap store, or was written
  // by a newer program), kIo (anything else the server refused).
  // Error messages never contain the password.
  static Result<std::unique_ptr<PostgresqlTapStore>> open(std::string_view conninfo,
                                                          PostgresqlTapStoreOptions options = {});
  ~PostgresqlTapStore() override;
  PostgresqlTapStore(const PostgresqlTapStore&) = delete;
  PostgresqlTapStore& operator=(const PostgresqlTapStore&) = delete;

  // One transaction per call (plus, the first time a service day is seen, a short one that
  // creates its partition). Errors: kInvalidArgument (a tap of another device, seq 0 or beyond
  // 2^63-1: nothing sent to the server), kUnavailable (connection lost, lock timeout, deadlock:
  // retry), kIo / kCorrupt from the server (nothing stored).
  Result<BatchOutcome> store_batch(std::string_view device_id,
                                   std::span<const faregate::v1::TapRecord> taps) override;
  // 0 for a device never seen.
  Result<std::uint64_t> stored_through(std::string_view device_id) override;
  Result<std::uint64_t> tap_count() override;
  // Ordered by device_id, byte-wise (as the SQLite store does, whatever the database collation).
  Result<std::vector<DeviceSummary>> device_summaries() override;
  // In the order they were detected. kCorrupt if a stored record no longer parses.
  Result<std::vector<Conflict>> conflicts() override;
  Result<std::vector<faregate::v1::TapRecord>> taps_of_device(std::string_view device_id,
                                                              std::uint64_t from_seq,
                                                              std::size_t limit) override;

  // The rule this database cuts service days by.
  const ServiceDayRule& service_day_rule() const { return rule_; }

 private:
  struct Impl;
  PostgresqlTapStore(ServiceDayRule rule, std::unique_ptr<Impl> impl);

  ServiceDayRule rule_;
  std::mutex mutex_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace faregate::store
