#include "firmware/update/firmware_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "firmware/update/image_format.h"

namespace faregate::update {

Status FirmwareDir::create(FileOps& ops) const {
  if (auto ok = ops.create_dir(root_); !ok) return ok;
  // A new directory entry is durable only once its parent is synced.
  return ops.sync_dir(root_.parent_path());
}

Result<std::optional<BootState>> FirmwareDir::load_state(FileOps& ops) const {
  auto bytes = ops.read(state_file(), kMaxBootStateBytes);
  if (!bytes && bytes.error().code == ErrorCode::kNotFound) return std::optional<BootState>{};
  if (!bytes) return std::unexpected(bytes.error());
  auto state = decode_boot_state(to_string(*bytes));
  if (!state) return std::unexpected(state.error());
  return std::optional<BootState>(*state);
}

Status FirmwareDir::save_state(FileOps& ops, const BootState& state) const {
  const std::string text = encode_boot_state(state);
  return atomic_write_file(ops, state_file(), as_bytes(text));
}

Result<Bytes> FirmwareDir::read_slot(FileOps& ops, Slot slot) const {
  return ops.read(slot_file(slot), kMaxImageBytes);
}

Result<FirmwareLock> FirmwareLock::acquire(const FirmwareDir& dir) {
  if (::mkdir(dir.root().c_str(), 0755) != 0 && errno != EEXIST) {
    return make_error(ErrorCode::kIo, fmt::format("cannot create {}: {}", dir.root().string(),
                                                  std::strerror(errno)));
  }
  const int fd = ::open(dir.lock_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_error(ErrorCode::kIo, fmt::format("cannot open {}: {}", dir.lock_file().string(),
                                                  std::strerror(errno)));
  }
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int saved = errno;
    ::close(fd);
    return make_error(ErrorCode::kIo, fmt::format("cannot lock {}: {}", dir.lock_file().string(),
                                                  std::strerror(saved)));
  }
  return FirmwareLock(fd);
}

FirmwareLock::~FirmwareLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace faregate::update
