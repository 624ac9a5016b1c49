#pragma once
// Where firmware lives in a validator's data directory, and how its files are read and written:
//   <data_dir>/firmware/boot_state   the boot state (boot_state.h), replaced atomically
//   <data_dir>/firmware/slot_a.fgi   the image in slot A
//   <data_dir>/firmware/slot_b.fgi   the image in slot B
//   <data_dir>/firmware/healthy      the health marker of the current boot (health.h)
//   <data_dir>/firmware/lock         held (flock) while the boot state is read and changed

#include <filesystem>
#include <optional>

#include "common/bytes.h"
#include "common/error.h"
#include "firmware/update/boot_state.h"
#include "firmware/update/file_ops.h"

namespace faregate::update {

class FirmwareDir {
 public:
  explicit FirmwareDir(const std::filesystem::path& data_dir) : root_(data_dir / "firmware") {}

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path state_file() const { return root_ / "boot_state"; }
  std::filesystem::path slot_file(Slot slot) const {
    return root_ / (slot == Slot::kA ? "slot_a.fgi" : "slot_b.fgi");
  }
  std::filesystem::path health_file() const { return root_ / "healthy"; }
  std::filesystem::path lock_file() const { return root_ / "lock"; }

  // Creates <data_dir>/firmware if needed (the data directory itself must exist).
  Status create(FileOps& ops) const;

  // Returns the stored state; std::nullopt if there is none yet; kCorrupt if it is damaged.
  Result<std::optional<BootState>> load_state(FileOps& ops) const;
  // Replaces the stored state atomically (atomic_write_file).
  Status save_state(FileOps& ops, const BootState& state) const;

  // The bytes of a slot's image; kNotFound if the slot is empty.
  Result<Bytes> read_slot(FileOps& ops, Slot slot) const;

 private:
  std::filesystem::path root_;
};

// An exclusive advisory lock (flock) on the firmware directory, so that an offline flash, an
// over-the-air install and the launcher never interleave their read-modify-write of the state.
class FirmwareLock {
 public:
  // Blocks until the lock is free. Creates the lock file (and the firmware directory) if needed.
  static Result<FirmwareLock> acquire(const FirmwareDir& dir);
  FirmwareLock(FirmwareLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FirmwareLock& operator=(FirmwareLock&&) = delete;
  FirmwareLock(const FirmwareLock&) = delete;
  FirmwareLock& operator=(const FirmwareLock&) = delete;
  ~FirmwareLock();

 private:
  explicit FirmwareLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace faregate::update
