#pragma once
// journal::Journal: the validator's durable, offline store of taps (SQLite, WAL,
// synchronous=FULL). A tap is journaled before the gate opens, and is deleted only after the back
// office acknowledged it and the retention period passed.
//
// Sequence numbers: per device, starting at 1, strictly increasing, surviving restarts and never
// reused, even after every tap was pruned (the last issued seq is stored apart from the taps and
// advanced in the same transaction as the insert).
//
// Thread safety: all methods may be called from any thread; they serialize on one connection.
// The schema is described in docs/journal_schema.md.
//
// Errors (besides those listed per method): kIo when SQLite cannot read or write the file,
// kTimeout when another process held the file locked longer than the busy timeout, kCorrupt when
// stored data fails its own checks (an undecodable record, a missing metadata row).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "faregate/v1/sync.pb.h"
#include "faregate/v1/tap.pb.h"

struct sqlite3;

namespace faregate::journal {

// Closes the connection (the last close checkpoints the WAL into the main file).
struct SqliteCloser {
  void operator()(sqlite3* db) const noexcept;
};

struct JournalStats {
  std::uint64_t last_seq = 0;           // highest seq ever issued (0 before the first tap)
  std::uint64_t synced_through = 0;     // highest seq the back office acknowledged
  std::uint64_t unsynced = 0;           // taps journaled but not yet acknowledged
  std::uint64_t stored = 0;             // taps still in the file (unsynced + retained)
  std::int64_t oldest_unsynced_utc_ms = 0;  // 0 when none
};

class Journal {
 public:
  // Opens (creating if needed) the journal at `path` for `device_id`, migrating older schemas.
  // Fails with kInvalidArgument if the file belongs to another device (or device_id is empty),
  // kCorrupt if it is not a journal, fails its integrity check or was written by a newer schema,
  // kIo if it cannot be opened. Requires: the parent directory exists; it is never created here
  // (kIo), because a missing data directory usually means an unmounted volume, and a fresh
  // journal there would restart seq at 1. A file that is refused is left untouched.
  static Result<std::unique_ptr<Journal>> open(const std::filesystem::path& path,
                                               std::string_view device_id);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Assigns the next seq, stamps device_id and seq into the record, and commits durably.
  // Returns the seq only once the record is on stable storage.
  Result<std::uint64_t> append(faregate::v1::TapRecord record);

  // Up to `limit` taps after the acknowledged watermark, ascending seq.
  Result<std::vector<faregate::v1::TapRecord>> unsynced(std::size_t limit);

  // Records that the back office holds every tap through `through_seq`. Never moves backwards;
  // a value beyond last_seq is refused with kInvalidArgument (it would hide future taps).
  Status mark_synced(std::uint64_t through_seq);

  // Deletes acknowledged taps whose tap time is before `older_than_utc_ms`. Never deletes an
  // unacknowledged tap. Returns how many were deleted.
  Result<std::uint64_t> prune(std::int64_t older_than_utc_ms);

  Result<JournalStats> stats();

  // Deny list: card tokens refused at the gate, with the version they came with.
  // apply_deny_list applies a delta (or a full list) in one transaction; a delta whose
  // from_version is not the current version is refused with kConflict (the validator then asks
  // for a full list), and nothing changes. A delta must also advance the version (to_version >
  // from_version), else kConflict. A full list replaces every token whatever its version, and its
  // `removed` field is ignored. Within a delta, removals are applied before additions, so a token
  // in both ends up denied. An empty card token is refused with kInvalidArgument.
  Status apply_deny_list(const faregate::v1::DenyListDelta& delta);
  Result<bool> is_denied(ByteView card_token);
  Result<std::uint64_t> deny_list_version();

  // Config: the last ConfigBundle applied, whole (version 0 = defaults, none received).
  // A version lower than the current one is refused with kConflict; an equal version is a no-op.
  Status apply_config(const faregate::v1::ConfigBundle& config);
  Result<faregate::v1::ConfigBundle> config();

  const std::string& device_id() const { return device_id_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  Journal(std::unique_ptr<sqlite3, SqliteCloser> db, std::filesystem::path path,
          std::string device_id);

  std::unique_ptr<sqlite3, SqliteCloser> db_;
  std::filesystem::path path_;
  std::string device_id_;
  std::mutex mutex_;
};

}  // namespace faregate::journal
