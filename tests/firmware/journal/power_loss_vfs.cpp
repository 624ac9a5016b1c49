#include "tests/firmware/journal/power_loss_vfs.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace faregate::journal::test {

namespace {

// A write (or truncate) that reached the page cache but not the disk.
struct PendingOp {
  bool truncate = false;
  sqlite3_int64 offset = 0;  // truncate: the new size
  std::string data;
};

// The OS's view of one file: what a read returns (image) and what is not on disk yet (pending).
// Kept by path, beyond the handles, like a real page cache.
struct CachedFile {
  std::string image;
  std::vector<PendingOp> pending;
};

}  // namespace

struct PowerLossVfs::State {
  sqlite3_vfs vfs{};
  sqlite3_vfs* real = nullptr;
  sqlite3_io_methods methods{};
  std::map<std::string, CachedFile> files;

  std::uint64_t syncs = 0;
  std::uint64_t operations = 0;
  std::uint64_t cut_at_sync = 0;  // 0: no cut planned
  CutFates fates = CutFates::kRandom;
  std::mt19937_64 random;
  std::uint64_t fail_at_operation = 0;  // 0: no failure planned
  bool failed = false;
  bool off = false;
  CutReport report;

  // Counts an operation; true if it is the one planned to fail.
  bool next_operation_fails() {
    ++operations;
    if (fail_at_operation != 0 && operations == fail_at_operation) {
      failed = true;
      return true;
    }
    return false;
  }

  // Writes pending operations to the real file, in order.
  static bool apply(const std::string& path, const PendingOp& op, const std::string* data) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = true;
    if (op.truncate) {
      ok = ::ftruncate(fd, op.offset) == 0;
    } else {
      const std::string& bytes = data != nullptr ? *data : op.data;
      ok =
          ::pwrite(fd, bytes.data(), bytes.size(), op.offset) == static_cast<ssize_t>(bytes.size());
    }
    ::close(fd);
    return ok;
  }

  bool flush(const std::string& path) {
    auto it = files.find(path);
    if (it == files.end()) return true;
    for (const auto& op : it->second.pending) {
      if (!apply(path, op, nullptr)) return false;
    }
    it->second.pending.clear();
    return true;
  }

  void cut_power() {
    for (auto& [path, file] : files) {
      for (const auto& op : file.pending) {
        int fate = 0;  // 0 keep, 1 drop, 2 garbage
        if (fates == CutFates::kDropAll) fate = 1;
        if (fates == CutFates::kRandom) fate = static_cast<int>(random() % (op.truncate ? 2 : 3));
        if (fate == 1) {
          ++report.dropped;
          continue;
        }
        if (fate == 2) {
          std::string garbage(op.data.size(), '\0');
          for (char& c : garbage) c = static_cast<char>(random() & 0xFF);
          apply(path, op, &garbage);
          ++report.garbage;
          continue;
        }
        apply(path, op, nullptr);
        ++report.kept;
      }
    }
    files.clear();
    off = true;
  }
};

namespace {

using State = PowerLossVfs::State;

struct FaultFile {
  sqlite3_file base;
  State* state;
  std::string* path;   // tracked files only; key of State::files
  sqlite3_file* real;  // the wrapped VFS's file, in the same allocation
};
constexpr std::size_t kFaultFileSize = (sizeof(FaultFile) + 15) & ~std::size_t{15};

FaultFile* fault(sqlite3_file* file) { return reinterpret_cast<FaultFile*>(file); }
State& state_of(sqlite3_vfs* vfs) { return *static_cast<State*>(vfs->pAppData); }

// The cached file of a tracked handle; nullptr if it vanished (deleted while open).
CachedFile* cached(FaultFile* file) {
  auto it = file->state->files.find(*file->path);
  return it == file->state->files.end() ? nullptr : &it->second;
}

int fault_close(sqlite3_file* f) {
  FaultFile* file = fault(f);
  const int rc =
      file->real->pMethods != nullptr ? file->real->pMethods->xClose(file->real) : SQLITE_OK;
  delete file->path;  // the cache entry outlives the handle
  file->path = nullptr;
  return rc;
}

int fault_read(sqlite3_file* f, void* buffer, int amount, sqlite3_int64 offset) {
  FaultFile* file = fault(f);
  if (file->path == nullptr) return file->real->pMethods->xRead(file->real, buffer, amount, offset);
  State& state = *file->state;
  if (state.off || state.next_operation_fails()) return SQLITE_IOERR_READ;
  CachedFile* cache = cached(file);
  if (cache == nullptr) return SQLITE_IOERR_READ;
  const auto size = static_cast<sqlite3_int64>(cache->image.size());
  const sqlite3_int64 available = std::clamp<sqlite3_int64>(size - offset, 0, amount);
  if (available > 0) {
    std::memcpy(buffer, cache->image.data() + offset, static_cast<std::size_t>(available));
  }
  if (available < amount) {
    // SQLite requires the rest of the buffer zeroed on a short read.
    std::memset(static_cast<char*>(buffer) + available, 0,
                static_cast<std::size_t>(amount - available));
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

int fault_write(sqlite3_file* f, const void* buffer, int amount, sqlite3_int64 offset) {
  FaultFile* file = fault(f);
  if (file->path == nullptr) {
    return file->real->pMethods->xWrite(file->real, buffer, amount, offset);
  }
  State& state = *file->state;
  if (state.off || state.next_operation_fails()) return SQLITE_IOERR_WRITE;
  CachedFile* cache = cached(file);
  if (cache == nullptr) return SQLITE_IOERR_WRITE;
  const auto end = static_cast<std::size_t>(offset) + static_cast<std::size_t>(amount);
  if (cache->image.size() < end) cache->image.resize(end, '\0');
  std::memcpy(cache->image.data() + offset, buffer, static_cast<std::size_t>(amount));
  cache->pending.push_back(
      PendingOp{false, offset,
                std::string(static_cast<const char*>(buffer), static_cast<std::size_t>(amount))});
  return SQLITE_OK;
}

int fault_truncate(sqlite3_file* f, sqlite3_int64 size) {
  FaultFile* file = fault(f);
  if (file->path == nullptr) return file->real->pMethods->xTruncate(file->real, size);
  State& state = *file->state;
  if (state.off || state.next_operation_fails()) return SQLITE_IOERR_TRUNCATE;
  CachedFile* cache = cached(file);
  if (cache == nullptr) return SQLITE_IOERR_TRUNCATE;
  cache->image.resize(static_cast<std::size_t>(size), '\0');
  cache->pending.push_back(PendingOp{true, size, {}});
  return SQLITE_OK;
}

int fault_sync(sqlite3_file* f, int flags) {
  FaultFile* file = fault(f);
  if (file->path == nullptr) return file->real->pMethods->xSync(file->real, flags);
  State& state = *file->state;
  if (state.off) return SQLITE_IOERR_FSYNC;
  if (state.next_operation_fails()) {
    // As Linux does after an fsync error: the dirty pages are marked clean, so their data never
    // reaches the disk, though reads keep seeing it until the cache forgets it.
    if (CachedFile* cache = cached(file)) cache->pending.clear();
    return SQLITE_IOERR_FSYNC;
  }
  ++state.syncs;
  if (state.cut_at_sync != 0 && state.syncs == state.cut_at_sync) {
    state.cut_power();
    return SQLITE_IOERR_FSYNC;
  }
  return state.flush(*file->path) ? SQLITE_OK : SQLITE_IOERR_FSYNC;
}

int fault_file_size(sqlite3_file* f, sqlite3_int64* size) {
  FaultFile* file = fault(f);
  if (file->path == nullptr) return file->real->pMethods->xFileSize(file->real, size);
  if (file->state->off) return SQLITE_IOERR_FSTAT;
  CachedFile* cache = cached(file);
  if (cache == nullptr) return SQLITE_IOERR_FSTAT;
  *size = static_cast<sqlite3_int64>(cache->image.size());
  return SQLITE_OK;
}

int fault_lock(sqlite3_file* f, int level) {
  FaultFile* file = fault(f);
  return file->real->pMethods->xLock(file->real, level);
}
int fault_unlock(sqlite3_file* f, int level) {
  FaultFile* file = fault(f);
  return file->real->pMethods->xUnlock(file->real, level);
}
int fault_check_reserved(sqlite3_file* f, int* out) {
  FaultFile* file = fault(f);
  return file->real->pMethods->xCheckReservedLock(file->real, out);
}
int fault_file_control(sqlite3_file* f, int op, void* arg) {
  FaultFile* file = fault(f);
  // Size hints make the unix VFS extend the real file behind the cache; they are only hints.
  if (file->path != nullptr && (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE)) {
    return SQLITE_OK;
  }
  return file->real->pMethods->xFileControl(file->real, op, arg);
}
int fault_sector_size(sqlite3_file* f) {
  FaultFile* file = fault(f);
  return file->real->pMethods->xSectorSize(file->real);
}
int fault_device_characteristics(sqlite3_file* f) {
  FaultFile* file = fault(f);
  return file->real->pMethods->xDeviceCharacteristics(file->real);
}
int fault_shm_map(sqlite3_file* f, int page, int page_size, int extend, void volatile** out) {
  FaultFile* file = fault(f);
  return file->real->pMethods->xShmMap(file->real, page, page_size, extend, out);
}
int fault_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  FaultFile* file = fault(f);
  return file->real->pMethods->xShmLock(file->real, offset, n, flags);
}
void fault_shm_barrier(sqlite3_file* f) {
  FaultFile* file = fault(f);
  file->real->pMethods->xShmBarrier(file->real);
}
int fault_shm_unmap(sqlite3_file* f, int delete_flag) {
  FaultFile* file = fault(f);
  return file->real->pMethods->xShmUnmap(file->real, delete_flag);
}

int fault_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  State& state = state_of(vfs);
  FaultFile* file = fault(f);
  file->base.pMethods = nullptr;
  file->state = &state;
  file->path = nullptr;
  file->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kFaultFileSize);
  file->real->pMethods = nullptr;
  if (state.off) return SQLITE_CANTOPEN;
  const int rc = state.real->xOpen(state.real, name, file->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (file->real->pMethods != nullptr) file->real->pMethods->xClose(file->real);
    return rc;
  }
  const bool tracked =
      name != nullptr &&
      (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL)) != 0;
  if (tracked) {
    file->path = new std::string(name);
    if (!state.files.contains(*file->path)) {
      // First sight of this file since power-on: the cache starts as what is on disk.
      CachedFile cache;
      sqlite3_int64 size = 0;
      int io = file->real->pMethods->xFileSize(file->real, &size);
      cache.image.resize(static_cast<std::size_t>(size));
      if (io == SQLITE_OK && size > 0) {
        io = file->real->pMethods->xRead(file->real, cache.image.data(), static_cast<int>(size), 0);
      }
      if (io != SQLITE_OK) {
        delete file->path;
        file->path = nullptr;
        file->real->pMethods->xClose(file->real);
        return SQLITE_IOERR_READ;
      }
      state.files.emplace(*file->path, std::move(cache));
    }
  }
  file->base.pMethods = &state.methods;
  return SQLITE_OK;
}

int fault_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  State& state = state_of(vfs);
  if (state.off) return SQLITE_IOERR_DELETE;
  state.files.erase(name);
  return state.real->xDelete(state.real, name, sync_dir);
}

int fault_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  State& state = state_of(vfs);
  return state.real->xAccess(state.real, name, flags, out);
}
int fault_full_pathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  State& state = state_of(vfs);
  return state.real->xFullPathname(state.real, name, size, out);
}
void* fault_dl_open(sqlite3_vfs* vfs, const char* name) {
  State& state = state_of(vfs);
  return state.real->xDlOpen(state.real, name);
}
void fault_dl_error(sqlite3_vfs* vfs, int size, char* out) {
  State& state = state_of(vfs);
  state.real->xDlError(state.real, size, out);
}
void (*fault_dl_sym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  State& state = state_of(vfs);
  return state.real->xDlSym(state.real, handle, symbol);
}
void fault_dl_close(sqlite3_vfs* vfs, void* handle) {
  State& state = state_of(vfs);
  state.real->xDlClose(state.real, handle);
}
int fault_randomness(sqlite3_vfs* vfs, int size, char* out) {
  State& state = state_of(vfs);
  return state.real->xRandomness(state.real, size, out);
}
int fault_sleep(sqlite3_vfs* vfs, int microseconds) {
  State& state = state_of(vfs);
  return state.real->xSleep(state.real, microseconds);
}
int fault_current_time(sqlite3_vfs* vfs, double* out) {
  State& state = state_of(vfs);
  return state.real->xCurrentTime(state.real, out);
}
int fault_last_error(sqlite3_vfs* vfs, int size, char* out) {
  State& state = state_of(vfs);
  return state.real->xGetLastError(state.real, size, out);
}
int fault_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  State& state = state_of(vfs);
  return state.real->xCurrentTimeInt64(state.real, out);
}

}  // namespace

PowerLossVfs::PowerLossVfs() : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.real = sqlite3_vfs_find(nullptr);
  if (s.real == nullptr || s.real->iVersion < 2) throw std::runtime_error("no usable default VFS");

  s.methods.iVersion = 2;  // no xFetch: SQLite must not memory-map around the cache
  s.methods.xClose = fault_close;
  s.methods.xRead = fault_read;
  s.methods.xWrite = fault_write;
  s.methods.xTruncate = fault_truncate;
  s.methods.xSync = fault_sync;
  s.methods.xFileSize = fault_file_size;
  s.methods.xLock = fault_lock;
  s.methods.xUnlock = fault_unlock;
  s.methods.xCheckReservedLock = fault_check_reserved;
  s.methods.xFileControl = fault_file_control;
  s.methods.xSectorSize = fault_sector_size;
  s.methods.xDeviceCharacteristics = fault_device_characteristics;
  s.methods.xShmMap = fault_shm_map;
  s.methods.xShmLock = fault_shm_lock;
  s.methods.xShmBarrier = fault_shm_barrier;
  s.methods.xShmUnmap = fault_shm_unmap;

  s.vfs.iVersion = 2;
  s.vfs.szOsFile = static_cast<int>(kFaultFileSize) + s.real->szOsFile;
  s.vfs.mxPathname = s.real->mxPathname;
  s.vfs.zName = "faregate-power-loss";
  s.vfs.pAppData = &s;
  s.vfs.xOpen = fault_open;
  s.vfs.xDelete = fault_delete;
  s.vfs.xAccess = fault_access;
  s.vfs.xFullPathname = fault_full_pathname;
  s.vfs.xDlOpen = fault_dl_open;
  s.vfs.xDlError = fault_dl_error;
  s.vfs.xDlSym = fault_dl_sym;
  s.vfs.xDlClose = fault_dl_close;
  s.vfs.xRandomness = fault_randomness;
  s.vfs.xSleep = fault_sleep;
  s.vfs.xCurrentTime = fault_current_time;
  s.vfs.xGetLastError = fault_last_error;
  s.vfs.xCurrentTimeInt64 = fault_current_time_int64;
  if (sqlite3_vfs_register(&s.vfs, /*makeDflt=*/1) != SQLITE_OK) {
    throw std::runtime_error("cannot register the power-loss VFS");
  }
}

PowerLossVfs::~PowerLossVfs() {
  sqlite3_vfs_register(state_->real, /*makeDflt=*/1);
  sqlite3_vfs_unregister(&state_->vfs);
}

void PowerLossVfs::reset() {
  State& s = *state_;
  s.files.clear();
  s.syncs = 0;
  s.operations = 0;
  s.cut_at_sync = 0;
  s.fail_at_operation = 0;
  s.failed = false;
  s.off = false;
  s.report = {};
}

void PowerLossVfs::cut_power_at_sync(std::uint64_t n, CutFates fates, std::uint64_t seed) {
  state_->cut_at_sync = n;
  state_->fates = fates;
  state_->random.seed(seed);
}

void PowerLossVfs::fail_operation(std::uint64_t n) { state_->fail_at_operation = n; }
bool PowerLossVfs::powered_off() const { return state_->off; }
bool PowerLossVfs::failure_injected() const { return state_->failed; }
std::uint64_t PowerLossVfs::syncs() const { return state_->syncs; }
std::uint64_t PowerLossVfs::operations() const { return state_->operations; }
const CutReport& PowerLossVfs::cut_report() const { return state_->report; }

}  // namespace faregate::journal::test
