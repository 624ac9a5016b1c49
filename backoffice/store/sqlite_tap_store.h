#pragma once
// store::SqliteTapStore: the TapStore on one SQLite file (WAL, synchronous=FULL), the embedded
// default for a small network. A commit returns only once the batch is on stable storage.
//
// Schema (user_version 1, application_id 'FGBS'):
//   taps(device_id TEXT, seq INTEGER, tap_time_utc_ms INTEGER, card_token BLOB,
//        record BLOB,                       -- deterministic serialization of the TapRecord
//        PRIMARY KEY(device_id, seq))
//   conflicts(id, device_id, seq, held_record BLOB, received_record BLOB, received_at_utc_ms)
//        -- one row per distinct contradicting version; resending it adds no second row
//   devices(device_id PRIMARY KEY, stored_through_seq, max_seq, tap_count)
//        -- the contiguous watermark and tallies, updated in the same transaction as the taps
// Later schema versions are added as migrations that run, each in its own transaction, when an
// older file is opened. A file written by a newer program is refused, never downgraded.
//
// Thread safety: every method may be called from any thread; calls serialize on one connection.
// Other processes may read the file at the same time (WAL); writers wait up to busy_timeout.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>

#include "backoffice/store/tap_store.h"

namespace faregate::store {

struct SqliteTapStoreOptions {
  // Source of the received_at time stamped on conflict rows, UTC epoch ms. Empty: system clock.
  std::function<std::int64_t()> utc_now_ms;
  // How long a write waits for a lock held by another connection before failing kUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
};

class SqliteTapStore final : public TapStore {
 public:
  // Opens the store at `path`, creating the file and its schema if needed and migrating an older
  // schema. Errors: kIo (cannot open or write the file, WAL unavailable), kCorrupt (not a SQLite
  // file, not a tap store, or a schema newer than this program), kUnavailable (locked too long).
  static Result<std::unique_ptr<SqliteTapStore>> open(const std::filesystem::path& path,
                                                      SqliteTapStoreOptions options = {});
  ~SqliteTapStore() override;
  SqliteTapStore(const SqliteTapStore&) = delete;
  SqliteTapStore& operator=(const SqliteTapStore&) = delete;

  // One transaction per call, whatever the batch size. Errors: kInvalidArgument (a tap of
  // another device, seq 0 or beyond 2^63-1: nothing stored), kIo / kUnavailable / kCorrupt from
  // SQLite (nothing stored).
  Result<BatchOutcome> store_batch(std::string_view device_id,
                                   std::span<const faregate::v1::TapRecord> taps) override;
  // 0 for a device never seen.
  Result<std::uint64_t> stored_through(std::string_view device_id) override;
  Result<std::uint64_t> tap_count() override;
  // Ordered by device_id.
  Result<std::vector<DeviceSummary>> device_summaries() override;
  // In the order they were detected. kCorrupt if a stored record no longer parses.
  Result<std::vector<Conflict>> conflicts() override;
  Result<std::vector<faregate::v1::TapRecord>> taps_of_device(std::string_view device_id,
                                                              std::uint64_t from_seq,
                                                              std::size_t limit) override;
  // Reads in place, with one prepared statement for every page.
  Result<std::size_t> read_taps_of_device(std::string_view device_id, std::uint64_t from_seq,
                                          std::size_t limit,
                                          std::vector<faregate::v1::TapRecord>& buffer) override;

  const std::filesystem::path& path() const { return path_; }

 private:
  struct Impl;
  SqliteTapStore(std::filesystem::path path, std::unique_ptr<Impl> impl);

  std::filesystem::path path_;
  std::mutex mutex_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace faregate::store
