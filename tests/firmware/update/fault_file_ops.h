#pragma once
// A FileOps that cuts the power at a chosen write step, then makes the disk look as it could
// after the power comes back (MCUboot's power-loss simulator and LevelDB's fault Env are the
// models). It keeps an undo log of every change that is not yet durable:
//   file data          durable after sync() of that file;
//   directory entries  (create of a new name, rename, remove, mkdir) durable after sync_dir() of
//                      the directory that holds them.
// Once the power is cut every further call fails, as nothing runs in a dead process.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "firmware/update/file_ops.h"

namespace faregate::update::testing {

enum class LossModel {
  kEverythingLanded,  // every call before the cut reached the disk, and part of an interrupted
                      // write
  kUnsyncedLost,      // nothing that was not yet durable survived
  kUnsyncedGarbage,   // like kUnsyncedLost, but unsynced file data reads back as garbage
};
const char* to_string(LossModel model);

enum class StepKind { kCreate, kAppend, kSync, kClose, kRename, kSyncDir, kRemove, kCreateDir };

class FaultFileOps final : public FileOps {
 public:
  // cut_at_step: 1-based number of the write step that never completes (0: no cut). With
  // `partial_write`, an append cut short writes the first half of its data.
  explicit FaultFileOps(std::size_t cut_at_step = 0, bool partial_write = false)
      : cut_at_(cut_at_step), partial_(partial_write) {}

  std::size_t steps() const { return kinds_.size(); }
  const std::vector<StepKind>& step_kinds() const { return kinds_; }
  bool power_cut() const { return cut_; }
  // Set when the code under test renamed a file whose data was not yet synced, or renamed while
  // an earlier rename was not yet durable (ordering bugs a power loss would expose).
  const std::optional<std::string>& ordering_bug() const { return ordering_bug_; }

  // Reverts what `model` says a power loss loses. Call once, after the cut.
  void restore_after_power_loss(LossModel model);

  Result<Handle> create(const std::filesystem::path& file) override;
  Status append(Handle handle, ByteView data) override;
  Status sync(Handle handle) override;
  Status close(Handle handle) override;
  Status rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  Status sync_dir(const std::filesystem::path& dir) override;
  Status remove(const std::filesystem::path& file) override;
  Status create_dir(const std::filesystem::path& dir) override;
  Result<Bytes> read(const std::filesystem::path& file, std::uint64_t max_bytes) override;

 private:
  struct Undo {
    enum class Kind {
      kData,       // appended data; durable on sync() of the file
      kTruncated,  // create() over an existing file; durable on sync() of the file
      kNewEntry,   // create() of a new name; durable on sync_dir()
      kRemoved,    // remove(); durable on sync_dir()
      kRename,     // rename(); durable on sync_dir()
      kNewDir,     // create_dir() of a new directory; durable on sync_dir() of its parent
    } kind;
    std::filesystem::path path;         // the file or directory (for kRename: the new name)
    std::filesystem::path other;        // kRename: the old name
    std::optional<Bytes> old_contents;  // kTruncated, kRemoved, kRename (the replaced target)
    std::uint64_t durable_size = 0;     // kData: size once synced data ends
    bool durable = false;
  };

  // Counts a step; returns false (power off) at and after the cut.
  bool step(StepKind kind);
  Status dead() const;
  void mark_dir_durable(const std::filesystem::path& dir);

  std::size_t cut_at_;
  bool partial_;
  bool cut_ = false;
  std::vector<StepKind> kinds_;
  std::map<Handle, std::filesystem::path> open_;
  std::vector<Undo> undo_;
  std::optional<std::string> ordering_bug_;
  PosixFileOps real_;
};

}  // namespace faregate::update::testing
