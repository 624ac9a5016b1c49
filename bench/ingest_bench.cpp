// Back-office ingest throughput, in taps per second:
//   BM_StoreBatch       store_batch straight into the SQLite tap store (one transaction and one
//                       fsync per batch, as in production: WAL, synchronous=FULL)
//   BM_IngestOverTcp    the same batches end to end: a client on loopback TCP sends a TapBatch
//                       and waits for its BatchAck, through IngestServer and its store thread
// Each run uses a fresh store in a temporary directory under $FAREGATE_BENCH_DIR (default
// $TMPDIR). Real time is reported: the work is on the store and network threads and in fsync,
// not on the benchmark thread.

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "backoffice/ingest/ingest_server.h"
#include "backoffice/store/sqlite_tap_store.h"
#include "tests/backoffice/backoffice_test_support.h"
#include "tests/backoffice/sync_test_client.h"

namespace {

using faregate::store::SqliteTapStore;
using faregate::testing::ScratchDir;
using faregate::testing::SyncTestClient;
namespace v1 = faregate::v1;

const std::string kDevice = "bench-gate-01";

// bench/run.sh may point the stores at a chosen file system (fsync cost differs a lot).
std::filesystem::path bench_parent_dir() {
  const char* chosen = std::getenv("FAREGATE_BENCH_DIR");
  return chosen != nullptr && *chosen != '\0' ? std::filesystem::path(chosen)
                                              : std::filesystem::temp_directory_path();
}

// Gives the batch the next `taps.size()` seqs.
void restamp(std::vector<v1::TapRecord>& taps, std::uint64_t& next_seq) {
  for (auto& tap : taps) tap.set_seq(next_seq++);
}

void BM_StoreBatch(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  ScratchDir dir(bench_parent_dir());
  auto store = SqliteTapStore::open(dir.path() / "taps.db");
  if (!store) {
    state.SkipWithError(store.error().describe().c_str());
    return;
  }
  const auto batch_taps = static_cast<std::uint64_t>(state.range(0));
  auto taps = faregate::testing::make_taps(kDevice, 1, batch_taps);
  std::uint64_t next_seq = 1;
  for (auto _ : state) {
    restamp(taps, next_seq);
    auto outcome = (*store)->store_batch(kDevice, taps);
    if (!outcome || outcome->stored_through_seq != next_seq - 1) {
      state.SkipWithError(outcome ? "watermark did not advance" : outcome.error().message.c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_IngestOverTcp(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  ScratchDir dir(bench_parent_dir());
  auto store = SqliteTapStore::open(dir.path() / "taps.db");
  if (!store) {
    state.SkipWithError(store.error().describe().c_str());
    return;
  }
  faregate::ingest::IngestServer server(**store);
  auto port = server.start();
  if (!port) {
    state.SkipWithError(port.error().describe().c_str());
    return;
  }
  SyncTestClient client;
  if (!client.connect(*port) || !client.say_hello(kDevice)) {
    state.SkipWithError("cannot open a sync session");
    return;
  }
  const auto batch_taps = static_cast<std::uint64_t>(state.range(0));
  auto taps = faregate::testing::make_taps(kDevice, 1, batch_taps);
  std::uint64_t next_seq = 1;
  for (auto _ : state) {
    restamp(taps, next_seq);
    auto ack = client.send_batch(taps);
    if (!ack || ack->stored_through_seq() != next_seq - 1) {
      state.SkipWithError("batch not acknowledged");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  client.close();
  server.stop();
}

}  // namespace

BENCHMARK(BM_StoreBatch)->Arg(1000)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IngestOverTcp)->Arg(1000)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
