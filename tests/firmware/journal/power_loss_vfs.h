#pragma once
// A fault-injecting SQLite VFS for the journal's power-loss and I/O-error tests, in the manner of
// SQLite's own crash tests: it wraps the default (unix) VFS and keeps every write to a database,
// rollback journal or WAL file in a per-file "page cache" until that file is synced. Reads see
// the cache; the real file on disk only ever holds what was synced, which is what survives a
// power cut.
//
// Two faults can be planned:
// - A power cut at the Nth xSync: that sync does not happen; instead each write still unsynced,
//   in every file, is kept (reaches the disk), dropped (never reaches it) or replaced by garbage
//   of the same length (a torn write), chosen per write from a seeded generator (or all kept, or
//   all dropped). From then on every file operation fails, as on a machine without power, until
//   reset().
// - One I/O error: the Nth xRead, xWrite, xTruncate or xSync fails with SQLITE_IOERR_*; every
//   other operation succeeds. A failed write changes nothing; a failed sync loses that file's
//   unsynced writes on the disk (Linux marks the pages clean after an fsync error) while reads
//   still see them.
//
// Not modelled: file creation and deletion are durable at once (no directory sync); the WAL
// index (-shm) is passed through untouched (SQLite rebuilds it after a crash); temporary files
// are passed through.
//
// Registered as SQLite's default VFS for the lifetime of the object, so the journal uses it
// without knowing. One object per process; single-threaded use.

#include <cstdint>
#include <memory>

namespace faregate::journal::test {

enum class CutFates {
  kKeepAll,  // the disk had written everything; only the syncs were missing
  kDropAll,  // nothing unsynced reached the disk
  kRandom,   // each write kept, dropped or garbage, seeded
};

struct CutReport {
  std::uint64_t kept = 0;
  std::uint64_t dropped = 0;
  std::uint64_t garbage = 0;
};

class PowerLossVfs {
 public:
  PowerLossVfs();
  ~PowerLossVfs();  // the previous default VFS is the default again
  PowerLossVfs(const PowerLossVfs&) = delete;
  PowerLossVfs& operator=(const PowerLossVfs&) = delete;

  // Powers on: forgets every cached write (what is on disk stays), the counters and any plan.
  // Requires: no file is open through the VFS.
  void reset();

  // Plans a power cut at the nth xSync from the last reset() (1-based).
  void cut_power_at_sync(std::uint64_t n, CutFates fates, std::uint64_t seed);
  // Plans one I/O error at the nth read, write, truncate or sync from the last reset() (1-based).
  void fail_operation(std::uint64_t n);

  bool powered_off() const;
  bool failure_injected() const;
  std::uint64_t syncs() const;       // xSync calls on tracked files since reset()
  std::uint64_t operations() const;  // xRead + xWrite + xTruncate + xSync since reset()
  const CutReport& cut_report() const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace faregate::journal::test
