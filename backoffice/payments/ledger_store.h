#pragma once
// LedgerStore: the payments ledger between fare runs, in one SQLite file (WAL,
// synchronous=FULL), DATA_DIR/payments.db. Schema and rules: docs/payments.md ("Persistence").
//
// A fare run is one write transaction:
//
//   auto store = LedgerStore::open(path);      // creates the schema on first use
//   auto run = (*store)->begin_run();          // BEGIN IMMEDIATE, then reads the ledger
//   ... PaymentsLedger::restore(*run->snapshot) or a new ledger; verify, record, submit ...
//   (*store)->save(ledger.snapshot());         // rows written inside the transaction
//   (*store)->commit();                        // durable from here on
//
// Until commit() nothing is visible to anyone else, and a process that dies (or a store that
// is closed, or abort_run()) before it leaves the previous state exactly as it was. A second
// fare run started meanwhile waits for the first (busy timeout) and then sees its result, so
// two runs never both work from the same old state.
//
// Not thread-safe: one LedgerStore per thread; several processes may share the file.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>

#include "backoffice/payments/payments_ledger.h"
#include "common/error.h"

struct sqlite3;

namespace faregate::payments {

inline constexpr std::int64_t kLedgerSchemaVersion = 1;

struct LedgerRun {
  // nullopt: the store holds no ledger yet (its first fare run).
  std::optional<LedgerSnapshot> snapshot;
  std::uint64_t previous_runs = 0;  // fare runs committed before this one
};

class LedgerStore {
 public:
  // Opens or creates the store. Errors: kCorrupt (not a ledger store, or a newer schema), kIo.
  static Result<std::unique_ptr<LedgerStore>> open(const std::filesystem::path& path);
  ~LedgerStore();
  LedgerStore(const LedgerStore&) = delete;
  LedgerStore& operator=(const LedgerStore&) = delete;

  // Starts a fare run (the write transaction) and reads the ledger. Errors: kUnavailable when
  // another fare run holds the store longer than the busy timeout; kCorrupt when the stored
  // rows are not a ledger (bad enum, token, or reference); kInternal when a run is
  // already open on this store.
  Result<LedgerRun> begin_run();
  // Writes `snapshot` inside the open run. Charges, card-days and verified tokens are only ever
  // added or updated by a ledger (never removed), so rows are upserted. Requires: an open run.
  Status save(const LedgerSnapshot& snapshot);
  // Makes the run durable. Requires: an open run.
  Status commit();
  // Rolls the run back: the store keeps what the previous run committed.
  void abort_run();

  // Reads the committed ledger without starting a run (reports, tests). nullopt when empty.
  Result<std::optional<LedgerSnapshot>> read();

 private:
  explicit LedgerStore(sqlite3* db) : db_(db) {}
  Result<std::optional<LedgerSnapshot>> read_rows();

  sqlite3* db_;
  bool in_run_ = false;
};

}  // namespace faregate::payments
