// journal::Journal on a real file: how many taps per second the validator can journal durably
// (one SQLite commit with a WAL sync per tap), and how fast the sync agent can take a batch of
// 1000 unsynced taps and mark them acknowledged.
//
// The journal lives in a fresh directory under $FAREGATE_BENCH_DIR, else $TMPDIR (or /tmp). Put it
// on the storage the validator uses: on tmpfs an fsync costs nothing and the figures mean little;
// the benchmark labels itself "tmpfs" when that happens.

#include <linux/magic.h>
#include <stdlib.h>
#include <sys/vfs.h>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "firmware/journal/journal.h"

namespace {

namespace fs = std::filesystem;
namespace v1 = faregate::v1;
using faregate::journal::Journal;

constexpr const char* kDevice = "bench-val-0001";

class BenchDir {
 public:
  BenchDir() {
    const char* root = std::getenv("FAREGATE_BENCH_DIR");
    fs::path base = root != nullptr && *root != '\0' ? fs::path(root) : fs::temp_directory_path();
    std::string pattern = (base / "faregate-journal-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~BenchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
  const fs::path& path() const { return path_; }

  bool on_tmpfs() const {
    struct statfs info {};
    return ::statfs(path_.c_str(), &info) == 0 && info.f_type == TMPFS_MAGIC;
  }

 private:
  fs::path path_;
};

// Sized like a real EMV tap: 32-byte card token, ECIES-sealed PAN/PSN (65-byte ephemeral key,
// 12-byte nonce, ~20 bytes of ciphertext, 16-byte tag), ids and reason codes.
v1::TapRecord realistic_tap(std::uint64_t n) {
  v1::TapRecord tap;
  tap.set_tap_time_utc_ms(1'717'230'000'000 + static_cast<std::int64_t>(n) * 1'700);
  tap.set_monotonic_ms(86'400'000 + n * 1'700);
  tap.set_stop_id("stop:lisboa:baixa-chiado:gate-3");
  tap.set_role(v1::VALIDATOR_ROLE_ENTRY);
  std::string token(32, '\0');
  std::uint64_t x = n * 0x9E3779B97F4A7C15ULL + 1;
  for (char& c : token) {
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    c = static_cast<char>(x >> 56);
  }
  tap.set_card_token(token);
  tap.set_scheme(v1::CARD_SCHEME_MASTERCARD);
  tap.set_pan_last4("5100");
  tap.set_sealed_card_data(std::string(113, static_cast<char>(0x5A ^ (n & 0xff))));
  tap.set_oda(v1::ODA_RESULT_CDA);
  tap.set_decision(v1::DECISION_ACCEPT);
  tap.set_reason("ok");
  tap.set_atc(static_cast<std::uint32_t>(n & 0xffff));
  tap.set_firmware_version("1.4.2+g3f2a9c1");
  return tap;
}

void label(benchmark::State& state, const BenchDir& dir) {
  if (dir.on_tmpfs()) state.SetLabel("tmpfs: fsync is free, not a durable figure");
}

// One tap = one durable transaction: BEGIN IMMEDIATE, INSERT, UPDATE last_seq, COMMIT with the
// WAL synced (synchronous=FULL). Wall time, not CPU time: the cost is waiting for the disk.
void BM_JournalAppendDurable(benchmark::State& state) {
  BenchDir dir;
  label(state, dir);
  auto journal = Journal::open(dir.path() / "journal.db", kDevice);
  if (!journal) {
    state.SkipWithError(journal.error().describe().c_str());
    return;
  }
  std::uint64_t n = 0;
  for (auto _ : state) {
    ++n;
    auto seq = (*journal)->append(realistic_tap(n));
    if (!seq) {
      state.SkipWithError(seq.error().describe().c_str());
      break;
    }
    benchmark::DoNotOptimize(*seq);
  }
  // Proof that the work was done: every tap is in the file.
  auto stats = (*journal)->stats();
  if (!stats || stats->last_seq != n || stats->stored != n) {
    state.SkipWithError("journal does not hold every appended tap");
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_JournalAppendDurable)->UseRealTime()->Unit(benchmark::kMicrosecond);

// What the sync agent does per batch: read `batch` unsynced taps (decode every record) and mark
// them acknowledged (one durable commit). Each iteration starts from a copy of a journal holding
// exactly `batch` unsynced taps; copying and opening it is not timed.
void BM_JournalUnsyncedAndMarkSynced(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  BenchDir dir;
  label(state, dir);
  const fs::path filled = dir.path() / "filled.db";
  {
    auto journal = Journal::open(filled, kDevice);
    if (!journal) {
      state.SkipWithError(journal.error().describe().c_str());
      return;
    }
    for (std::size_t i = 1; i <= batch; ++i) {
      if (!(*journal)->append(realistic_tap(i))) {
        state.SkipWithError("filling the journal failed");
        return;
      }
    }
  }  // closing checkpoints the WAL: filled.db alone holds everything

  const fs::path work = dir.path() / "work.db";
  for (auto _ : state) {
    state.PauseTiming();
    std::error_code ec;
    fs::copy_file(filled, work, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      state.SkipWithError(("copying the filled journal failed: " + ec.message()).c_str());
      break;
    }
    auto journal = Journal::open(work, kDevice);
    if (!journal) {
      state.SkipWithError(journal.error().describe().c_str());
      break;
    }
    state.ResumeTiming();

    auto taps = (*journal)->unsynced(batch);
    if (!taps || taps->size() != batch) {
      state.SkipWithError("unsynced did not return the whole batch");
      break;
    }
    auto marked = (*journal)->mark_synced(taps->back().seq());
    if (!marked) {
      state.SkipWithError(marked.error().describe().c_str());
      break;
    }

    state.PauseTiming();
    journal->reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
}
BENCHMARK(BM_JournalUnsyncedAndMarkSynced)
    ->Arg(1000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
