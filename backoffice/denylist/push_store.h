#pragma once
// denylist::PushStore: what the back office pushes to validators on BatchAcks: the deny list
// (card tokens refused at the gate, versioned, with a history of changes for deltas) and the
// operator's ConfigBundle. One SQLite file (WAL, synchronous=FULL), DATA_DIR/pushes.db; its
// schema is in docs/sync_protocol.md ("Pushes").
//
// Deny list versions grow by one per change (a change adding and removing any number of
// tokens). For a validator that reports version V (DeviceHealth.deny_list_version):
//   - V == current: nothing to push;
//   - delta_base <= V < current: a delta V -> current, the net effect of every change after V;
//   - V < delta_base (the history it would need was dropped) or V > current (this store was
//     reset or restored): the full list, which replaces whatever the validator holds.
// History older than `max_history_versions` changes is dropped as changes are made, so that the
// file stays small; validators that far behind get a full list.
//
// A push travels in one frame, so a push holds at most `max_push_tokens` tokens (default
// 100,000, about 3.4 MB against the 4 MiB frame limit); a larger one is refused with
// kInvalidArgument and logged by the ingest server rather than sent.
//
// Thread safety: every method may be called from any thread (one connection, one mutex).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "faregate/v1/sync.pb.h"

struct sqlite3;

namespace faregate::denylist {

// Card tokens are HMAC-SHA256 outputs (docs/card_token.md).
inline constexpr std::size_t kCardTokenBytes = 32;

struct PushStoreOptions {
  std::uint64_t max_history_versions = 1000;
  std::size_t max_push_tokens = 100'000;
};

class PushStore {
 public:
  // Opens or creates the store. Errors: kCorrupt (not a push store, newer schema), kIo.
  static Result<std::unique_ptr<PushStore>> open(const std::filesystem::path& path,
                                                 PushStoreOptions options = {});
  ~PushStore();
  PushStore(const PushStore&) = delete;
  PushStore& operator=(const PushStore&) = delete;

  // Applies one change: `removed` tokens leave the list, `added` ones join it (a token in both
  // ends up denied). Returns the version after it; a change that changes nothing (all added
  // tokens already listed, all removed ones absent) makes no new version. Errors:
  // kInvalidArgument (a token that is not 32 bytes), kIo.
  Result<std::uint64_t> change_deny_list(std::span<const Bytes> added,
                                         std::span<const Bytes> removed);
  Result<std::uint64_t> deny_list_version();
  // The oldest version a delta can start from.
  Result<std::uint64_t> delta_base();
  Result<std::vector<Bytes>> deny_list();
  // What a validator holding `device_version` needs, or nullopt when it is up to date.
  Result<std::optional<faregate::v1::DenyListDelta>> deny_list_update(std::uint64_t device_version);

  // Stores `bundle` as the next config version (its version field is set here) and returns it.
  Result<std::uint64_t> set_config(faregate::v1::ConfigBundle bundle);
  // The current bundle (version 0 and defaults when none was set).
  Result<faregate::v1::ConfigBundle> config();
  // The current bundle when it is newer than `device_version`, else nullopt (also when the
  // validator reports a newer one than this store has: it would refuse an older one).
  Result<std::optional<faregate::v1::ConfigBundle>> config_update(std::uint64_t device_version);

 private:
  struct Meta {
    std::uint64_t deny_list_version = 0;
    std::uint64_t delta_base = 0;
    std::uint64_t config_version = 0;
  };
  explicit PushStore(sqlite3* db, PushStoreOptions options);
  Result<Meta> read_meta();
  Result<faregate::v1::DenyListDelta> full_list(std::uint64_t version);

  sqlite3* db_;
  const PushStoreOptions options_;
  std::mutex mutex_;
};

}  // namespace faregate::denylist
