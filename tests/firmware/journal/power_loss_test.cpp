// Power-loss safety of the validator journal. Killing a process loses nothing the OS already
// holds; a power cut loses whatever was not synced. Through a fault-injecting SQLite VFS
// (power_loss_vfs.h) a workload of appends, acks, deny-list updates and prunes is cut at every
// sync point it has, each one in turn (counted in a clean run first), with the unsynced writes
// all kept, all dropped, or each kept / dropped / turned to garbage at random. After each cut the
// journal is reopened and must pass PRAGMA integrity_check, hold every tap whose append returned
// (unless the workload pruned it), hold no tap it was not given, and never issue a seq again.
// A second sweep fails the Nth file operation instead: every failure must come back as an error
// value and every answer given must be right.

#include <google/protobuf/util/message_differencer.h>
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "firmware/journal/journal.h"
#include "tests/firmware/journal/power_loss_vfs.h"
#include "tests/firmware/journal/test_support.h"
#include "tests/support/temp_dir.h"

namespace faregate::journal {
namespace {

namespace v1 = faregate::v1;
using test::CutFates;
using test::make_tap;
using test::PowerLossVfs;

constexpr const char* kDevice = "val-power-3";
constexpr std::uint64_t kTaps = 40;

// --- the workload -------------------------------------------------------------------------------

enum class Step { kOpen, kClose, kAppend, kAck, kDeny, kPrune, kUnsynced, kStats };

struct Operation {
  Step step;
  std::uint64_t n = 0;  // appends: the tap number (make_tap(n))
};

// Appends with, among them, acks, deny-list deltas, prunes and reads, and a clean restart half
// way (its close checkpoints the WAL into the main file: those sync points are swept too).
std::vector<Operation> workload() {
  std::vector<Operation> ops = {{Step::kOpen}};
  for (std::uint64_t n = 1; n <= kTaps; ++n) {
    ops.push_back({Step::kAppend, n});
    if (n % 5 == 0) ops.push_back({Step::kAck});
    if (n % 7 == 0) ops.push_back({Step::kDeny});
    if (n % 9 == 0) ops.push_back({Step::kPrune, n});
    if (n % 6 == 0) ops.push_back({Step::kUnsynced});
    if (n == kTaps / 2) {
      ops.push_back({Step::kClose});
      ops.push_back({Step::kOpen});
    }
  }
  ops.push_back({Step::kStats});
  ops.push_back({Step::kClose});
  return ops;
}

std::string deny_token(std::uint64_t k) { return test::card_token(100'000 + k); }

// The delta from deny-list version v to v + 1.
v1::DenyListDelta deny_delta(std::uint64_t v) {
  v1::DenyListDelta delta;
  delta.set_from_version(v);
  delta.set_to_version(v + 1);
  delta.add_added(deny_token(2 * v));
  delta.add_added(deny_token(2 * v + 1));
  if (v >= 1) delta.add_removed(deny_token(2 * v - 2));
  return delta;
}

std::set<std::string> deny_set_at(std::uint64_t version) {
  std::set<std::string> tokens;
  for (std::uint64_t v = 0; v < version; ++v) {
    const auto delta = deny_delta(v);
    for (const auto& t : delta.removed()) tokens.erase(t);
    for (const auto& t : delta.added()) tokens.insert(t);
  }
  return tokens;
}

std::int64_t tap_time(std::uint64_t n) { return make_tap(n).tap_time_utc_ms(); }

// The record the journal must hold for tap n under seq.
v1::TapRecord expected_record(std::uint64_t n, std::uint64_t seq) {
  auto tap = make_tap(n);
  tap.set_device_id(kDevice);
  tap.set_seq(seq);
  return tap;
}

// What the test knows from the answers it got.
struct Model {
  std::map<std::uint64_t, std::uint64_t> confirmed;  // seq -> tap number: append returned it
  std::set<std::uint64_t> unconfirmed;               // tap numbers whose append failed
  std::uint64_t max_seq_returned = 0;
  std::uint64_t ack_confirmed = 0;
  std::uint64_t ack_attempted = 0;
  struct Prune {
    std::int64_t older_than;
    std::uint64_t ack_attempted;  // what may have been acknowledged when it ran
  };
  std::vector<Prune> prunes;
  std::uint64_t deny_confirmed = 0;
  std::set<std::uint64_t> deny_attempted;  // versions whose apply failed (may have taken effect)
  std::uint64_t answers = 0;               // calls that returned a value
  std::uint64_t errors = 0;                // calls that returned an error
  std::uint64_t failed_while_closing = 0;  // the injected I/O error hit a close

  bool may_be_pruned(std::uint64_t seq, std::uint64_t n) const {
    for (const auto& p : prunes) {
      if (tap_time(n) < p.older_than && seq <= p.ack_attempted) return true;
    }
    return false;
  }
};

// Runs the workload on `path`. In the power-loss sweep the first error ends it (the machine is
// off); in the I/O-error sweep it carries on. Wrong answers are reported in `wrong`.
void run_workload(const std::filesystem::path& path, PowerLossVfs& vfs, bool stop_at_first_error,
                  Model& model, std::vector<std::string>& wrong) {
  std::unique_ptr<Journal> journal;
  auto failed = [&](const Error& error, std::string_view what) {
    ++model.errors;
    // In the power-loss sweep an error is only expected once the power is off.
    if (stop_at_first_error && !vfs.powered_off()) {
      wrong.push_back(std::string(what) + " failed with the power on: " + error.describe());
    }
  };
  for (const auto& op : workload()) {
    if (stop_at_first_error && model.errors > 0) break;
    if (op.step != Step::kOpen && op.step != Step::kClose && journal == nullptr) {
      // The last open failed (I/O-error sweep): a validator retries at its next step.
      auto reopened = Journal::open(path, kDevice);
      if (!reopened) {
        failed(reopened.error(), "reopen");
        continue;
      }
      journal = std::move(*reopened);
    }
    switch (op.step) {
      case Step::kOpen: {
        auto opened = Journal::open(path, kDevice);
        if (!opened) {
          failed(opened.error(), "open");
          break;
        }
        journal = std::move(*opened);
        ++model.answers;
        break;
      }
      case Step::kClose: {
        // Closing checkpoints the WAL; a failure there is reported by no call.
        const bool before = vfs.failure_injected();
        journal.reset();
        if (!before && vfs.failure_injected()) ++model.failed_while_closing;
        break;
      }
      case Step::kAppend: {
        auto seq = journal->append(make_tap(op.n));
        if (!seq) {
          model.unconfirmed.insert(op.n);
          failed(seq.error(), "append");
          break;
        }
        ++model.answers;
        if (*seq <= model.max_seq_returned) {
          wrong.push_back("append returned seq " + std::to_string(*seq) + " after " +
                          std::to_string(model.max_seq_returned));
        }
        model.max_seq_returned = std::max(model.max_seq_returned, *seq);
        model.confirmed[*seq] = op.n;
        break;
      }
      case Step::kAck: {
        if (model.max_seq_returned < 2) break;
        const std::uint64_t through = model.max_seq_returned - 1;
        model.ack_attempted = std::max(model.ack_attempted, through);
        auto acked = journal->mark_synced(through);
        if (!acked) {
          failed(acked.error(), "mark_synced");
          break;
        }
        ++model.answers;
        model.ack_confirmed = std::max(model.ack_confirmed, through);
        break;
      }
      case Step::kDeny: {
        const auto delta = deny_delta(model.deny_confirmed);
        auto applied = journal->apply_deny_list(delta);
        if (!applied) {
          model.deny_attempted.insert(delta.to_version());
          failed(applied.error(), "apply_deny_list");
          break;
        }
        ++model.answers;
        model.deny_confirmed = delta.to_version();
        break;
      }
      case Step::kPrune: {
        const std::int64_t older_than = tap_time(op.n > 6 ? op.n - 6 : 1);
        model.prunes.push_back({older_than, model.ack_attempted});
        auto pruned = journal->prune(older_than);
        if (!pruned) {
          failed(pruned.error(), "prune");
          break;
        }
        ++model.answers;
        break;
      }
      case Step::kUnsynced: {
        auto taps = journal->unsynced(1000);
        if (!taps) {
          failed(taps.error(), "unsynced");
          break;
        }
        ++model.answers;
        std::uint64_t previous = 0;
        for (const auto& tap : *taps) {
          const std::uint64_t n = tap.monotonic_ms();
          const auto it = model.confirmed.find(tap.seq());
          const bool known =
              it != model.confirmed.end() ? it->second == n : model.unconfirmed.contains(n);
          if (!known || tap.seq() <= previous ||
              !google::protobuf::util::MessageDifferencer::Equals(tap,
                                                                  expected_record(n, tap.seq()))) {
            wrong.push_back("unsynced returned a wrong tap at seq " + std::to_string(tap.seq()));
          }
          previous = tap.seq();
        }
        break;
      }
      case Step::kStats: {
        auto stats = journal->stats();
        if (!stats) {
          failed(stats.error(), "stats");
          break;
        }
        ++model.answers;
        if (stats->last_seq < model.max_seq_returned) wrong.push_back("stats.last_seq went back");
        break;
      }
    }
  }
  journal.reset();
}

// --- checks after the restart
// ---------------------------------------------------------------------

struct StoredTap {
  std::uint64_t seq;
  v1::TapRecord record;
};

// Every tap in the file, through a plain connection.
std::vector<StoredTap> read_all_taps(const std::filesystem::path& path,
                                     std::vector<std::string>& wrong) {
  std::vector<StoredTap> taps;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    wrong.push_back("cannot open the file read-only");
    sqlite3_close(db);
    return taps;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT seq, record FROM taps ORDER BY seq", -1, &stmt, nullptr) ==
      SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      StoredTap tap{static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0)), {}};
      if (!tap.record.ParseFromArray(sqlite3_column_blob(stmt, 1), sqlite3_column_bytes(stmt, 1))) {
        wrong.push_back("seq " + std::to_string(tap.seq) + " holds a record that does not parse");
      }
      taps.push_back(std::move(tap));
    }
  } else {
    wrong.push_back(std::string("cannot read the taps: ") + sqlite3_errmsg(db));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return taps;
}

// Reopens the journal with the power on and no fault planned and checks it against the model.
void check_after_restart(const std::filesystem::path& path, const Model& model,
                         std::vector<std::string>& wrong) {
  auto journal = Journal::open(path, kDevice);
  if (!journal) {
    wrong.push_back("the journal does not reopen: " + journal.error().describe());
    return;
  }
  {
    test::RawDb raw(path);
    const std::string integrity = raw.query_text("PRAGMA integrity_check");
    if (integrity != "ok") wrong.push_back("integrity_check: " + integrity);
  }

  const auto taps = read_all_taps(path, wrong);
  std::set<std::uint64_t> present;
  std::set<std::uint64_t> numbers;
  std::uint64_t max_present = 0;
  for (const auto& tap : taps) {
    const std::uint64_t n = tap.record.monotonic_ms();
    const auto it = model.confirmed.find(tap.seq);
    const bool known =
        it != model.confirmed.end() ? it->second == n : model.unconfirmed.contains(n);
    if (!known || !numbers.insert(n).second ||
        !google::protobuf::util::MessageDifferencer::Equals(tap.record,
                                                            expected_record(n, tap.seq))) {
      wrong.push_back("seq " + std::to_string(tap.seq) + " holds a tap the journal was not given");
    }
    present.insert(tap.seq);
    max_present = std::max(max_present, tap.seq);
  }
  for (const auto& [seq, n] : model.confirmed) {
    if (!present.contains(seq) && !model.may_be_pruned(seq, n)) {
      wrong.push_back("lost confirmed tap seq " + std::to_string(seq));
    }
  }

  auto stats = (*journal)->stats();
  if (!stats) {
    wrong.push_back("stats after restart: " + stats.error().describe());
    return;
  }
  if (stats->last_seq < model.max_seq_returned || stats->last_seq < max_present) {
    wrong.push_back("last_seq " + std::to_string(stats->last_seq) + " is below a seq issued");
  }
  const std::uint64_t ack_ceiling = std::max(model.ack_attempted, model.ack_confirmed);
  if (stats->synced_through < model.ack_confirmed || stats->synced_through > ack_ceiling) {
    wrong.push_back("synced_through " + std::to_string(stats->synced_through) +
                    " is not an acknowledged value");
  }

  auto version = (*journal)->deny_list_version();
  if (!version) {
    wrong.push_back("deny_list_version after restart: " + version.error().describe());
  } else {
    if (*version != model.deny_confirmed && !model.deny_attempted.contains(*version)) {
      wrong.push_back("deny list at version " + std::to_string(*version) + ", confirmed " +
                      std::to_string(model.deny_confirmed));
    }
    const auto expected = deny_set_at(*version);
    for (std::uint64_t k = 0; k < 2 * (model.deny_confirmed + 2); ++k) {
      const auto token = deny_token(k);
      auto denied = (*journal)->is_denied(as_bytes(token));
      if (!denied || *denied != expected.contains(token)) {
        wrong.push_back("deny list content does not match version " + std::to_string(*version));
        break;
      }
    }
  }

  // Never reused: the next seq is above everything ever issued.
  auto next = (*journal)->append(make_tap(kTaps + 1000));
  if (!next) {
    wrong.push_back("append after restart: " + next.error().describe());
  } else if (*next != stats->last_seq + 1 || *next <= model.max_seq_returned) {
    wrong.push_back("seq " + std::to_string(*next) + " issued again after restart");
  }
}

std::string describe(const std::vector<std::string>& wrong) {
  std::ostringstream out;
  for (const auto& w : wrong) out << "  " << w << "\n";
  return out.str();
}

}  // namespace

TEST_CASE("journal survives a power cut at every sync point with every confirmed tap", "[fault]") {
  PowerLossVfs vfs;

  // A clean run counts the sync points and proves the checks pass without faults.
  std::uint64_t sync_points = 0;
  {
    faregate::testing::TempDir dir;
    vfs.reset();
    Model model;
    std::vector<std::string> wrong;
    run_workload(dir / "journal.db", vfs, true, model, wrong);
    sync_points = vfs.syncs();
    vfs.reset();
    check_after_restart(dir / "journal.db", model, wrong);
    INFO(describe(wrong));
    REQUIRE(wrong.empty());
    REQUIRE(model.confirmed.size() == kTaps);
  }
  REQUIRE(sync_points > kTaps);

  const CutFates all_fates[] = {CutFates::kKeepAll, CutFates::kDropAll, CutFates::kRandom};
  std::uint64_t cuts = 0;
  std::uint64_t failed_runs = 0;
  test::CutReport writes;
  std::uint64_t confirmed_at_cut = 0;
  for (std::uint64_t n = 1; n <= sync_points; ++n) {
    for (const CutFates fates : all_fates) {
      faregate::testing::TempDir dir;
      vfs.reset();
      vfs.cut_power_at_sync(n, fates, 0xC0FFEE00ULL + n);
      Model model;
      std::vector<std::string> wrong;
      run_workload(dir / "journal.db", vfs, true, model, wrong);
      if (!vfs.powered_off()) wrong.push_back("the power cut did not happen");
      const auto report = vfs.cut_report();
      writes.kept += report.kept;
      writes.dropped += report.dropped;
      writes.garbage += report.garbage;
      confirmed_at_cut += model.confirmed.size();
      vfs.reset();
      check_after_restart(dir / "journal.db", model, wrong);
      ++cuts;
      if (!wrong.empty()) {
        ++failed_runs;
        UNSCOPED_INFO("cut at sync " << n << " of " << sync_points << " (fates "
                                     << static_cast<int>(fates) << "):\n"
                                     << describe(wrong));
      }
    }
  }
  std::cout << "journal power-loss sweep: " << sync_points << " cut points (every sync of the "
            << "workload) x 3 fate modes = " << cuts << " power cuts; unsynced writes at the "
            << "cuts: " << writes.kept << " kept, " << writes.dropped << " dropped, "
            << writes.garbage << " garbage; " << confirmed_at_cut
            << " confirmed taps checked; runs with integrity_check failures, lost confirmed "
            << "taps, foreign taps or reused seqs: " << failed_runs << "\n";
  CHECK(failed_runs == 0);
}

TEST_CASE(
    "journal turns an I/O error at any file operation into an error value, never a wrong "
    "tap",
    "[fault]") {
  PowerLossVfs vfs;
  std::uint64_t operations = 0;
  {
    faregate::testing::TempDir dir;
    vfs.reset();
    Model model;
    std::vector<std::string> wrong;
    run_workload(dir / "journal.db", vfs, false, model, wrong);
    operations = vfs.operations();
    REQUIRE(model.errors == 0);
    REQUIRE(wrong.empty());
  }
  REQUIRE(operations > 0);

  std::uint64_t failed_runs = 0;
  std::uint64_t errors = 0;
  std::uint64_t at_close = 0;  // the failed operation belonged to a close (its checkpoint)
  std::uint64_t absorbed = 0;  // no call failed: SQLite recovered by itself
  for (std::uint64_t n = 1; n <= operations; ++n) {
    faregate::testing::TempDir dir;
    vfs.reset();
    vfs.fail_operation(n);
    Model model;
    std::vector<std::string> wrong;
    run_workload(dir / "journal.db", vfs, false, model, wrong);
    if (!vfs.failure_injected()) wrong.push_back("the I/O error was not injected");
    errors += model.errors;
    if (model.failed_while_closing > 0) {
      ++at_close;
    } else if (model.errors == 0) {
      ++absorbed;
    }
    vfs.reset();
    check_after_restart(dir / "journal.db", model, wrong);
    if (!wrong.empty()) {
      ++failed_runs;
      UNSCOPED_INFO("I/O error at operation " << n << " of " << operations << ":\n"
                                              << describe(wrong));
    }
  }
  std::cout << "journal I/O-error sweep: " << operations << " failure points (every read, write, "
            << "truncate and sync of the workload); " << errors << " calls returned an error, "
            << at_close << " failures hit a close (which reports nothing), " << absorbed
            << " were absorbed by SQLite; runs with a wrong answer, a lost confirmed tap, a "
            << "foreign tap or a reused seq: " << failed_runs << "\n";
  CHECK(failed_runs == 0);
}

}  // namespace faregate::journal
