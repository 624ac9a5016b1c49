#pragma once
// The file operations that install and boot-state changes are made of. Every call that changes
// the disk is one step that a power cut can interrupt; the power-loss tests wrap PosixFileOps in
// a FileOps that cuts power at step N and then drops what was not yet durable.

#include <cstdint>
#include <filesystem>
#include <functional>

#include "common/bytes.h"
#include "common/error.h"

namespace faregate::update {

class FileOps {
 public:
  using Handle = int;
  virtual ~FileOps() = default;

  // Writing steps.
  // Creates `file` (truncating one that exists) for writing. Returns a handle for
  // append/sync/close.
  virtual Result<Handle> create(const std::filesystem::path& file) = 0;
  virtual Status append(Handle handle, ByteView data) = 0;
  virtual Status sync(Handle handle) = 0;  // fsync: data and size durable
  virtual Status close(Handle handle) = 0;
  // Atomically replaces `to` with `from` (rename(2)); durable once the directory is synced.
  virtual Status rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  virtual Status sync_dir(const std::filesystem::path& dir) = 0;
  // Removing a file that does not exist succeeds.
  virtual Status remove(const std::filesystem::path& file) = 0;
  // Creating a directory that exists succeeds.
  virtual Status create_dir(const std::filesystem::path& dir) = 0;

  // Reading. kNotFound if the file does not exist; kCorrupt if it is larger than `max_bytes`.
  virtual Result<Bytes> read(const std::filesystem::path& file, std::uint64_t max_bytes) = 0;
};

// The real thing: POSIX calls, fsync included.
class PosixFileOps final : public FileOps {
 public:
  Result<Handle> create(const std::filesystem::path& file) override;
  Status append(Handle handle, ByteView data) override;
  Status sync(Handle handle) override;
  Status close(Handle handle) override;
  Status rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  Status sync_dir(const std::filesystem::path& dir) override;
  Status remove(const std::filesystem::path& file) override;
  Status create_dir(const std::filesystem::path& dir) override;
  Result<Bytes> read(const std::filesystem::path& file, std::uint64_t max_bytes) override;
};

// Called after each chunk with bytes written so far and the total.
using WriteProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

// Replaces `file` with `data` so that after a power cut at any point the file holds either its
// old contents or all of `data`, never a mix: write "<file>.tmp", fsync it, rename it over
// `file`, fsync the directory. `chunk_bytes` > 0 sets the write size (one step each).
Status atomic_write_file(FileOps& ops, const std::filesystem::path& file, ByteView data,
                         std::size_t chunk_bytes = 64 * 1024, const WriteProgress& progress = {});

}  // namespace faregate::update
