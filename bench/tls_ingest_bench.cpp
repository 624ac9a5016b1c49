// Back-office ingest over mutual TLS (the production sync link), beside the raw store rate of the
// same rows into the same kind of store, in the same run:
//   BM_StoreBatch             store_batch straight into the SQLite tap store (one transaction and
//                             one fsync per batch, WAL, synchronous=FULL): the ceiling
//   BM_IngestOverTls          the same batches end to end: a validator on loopback sends a
//                             TapBatch over TLS 1.2 (ECDHE-ECDSA, AES-128-GCM) and waits for its
//                             BatchAck, through IngestServer and its store thread
//   BM_IngestOverTlsValidators  four validators at once, each waiting for its own acks
//   BM_TlsHandshake           a new validator session: TCP connect plus the mutual TLS handshake
//                             (both certificate chains verified, P-256), in handshakes/s
// After the table, the ratio of end-to-end to raw rates is printed. Stores live in fresh
// temporary directories under $FAREGATE_BENCH_DIR (default $TMPDIR). Real time is reported.

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "backoffice/store/sqlite_tap_store.h"
#include "bench/ingest_bench_support.h"
#include "tests/backoffice/backoffice_test_support.h"
#include "tests/backoffice/sync_test_client.h"

namespace {

using faregate::bench::bench_parent_dir;
using faregate::bench::keep_store;
using faregate::bench::restamp;
using faregate::bench::start_nodes;
using faregate::bench::TlsNodes;
using faregate::store::SqliteTapStore;
using faregate::testing::ScratchDir;
using faregate::testing::SyncTestClient;
namespace v1 = faregate::v1;

// One ingest node on a SQLite store in `dir`; null (skipped) when it did not start.
std::unique_ptr<TlsNodes> start_backoffice(benchmark::State& state,
                                           const std::filesystem::path& dir) {
  std::vector<std::unique_ptr<faregate::store::TapStore>> stores;
  if (!keep_store(state, SqliteTapStore::open(dir / "taps.db"), stores)) return nullptr;
  return start_nodes(state, dir, std::move(stores));
}

void BM_StoreBatch(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  ScratchDir dir(bench_parent_dir());
  auto store = SqliteTapStore::open(dir.path() / "taps.db");
  if (!store) {
    state.SkipWithError(store.error().describe().c_str());
    return;
  }
  const std::string device = "bench-gate-01";
  const auto batch_taps = static_cast<std::uint64_t>(state.range(0));
  auto taps = faregate::testing::make_taps(device, 1, batch_taps);
  std::uint64_t next_seq = 1;
  for (auto _ : state) {
    restamp(taps, next_seq);
    auto outcome = (*store)->store_batch(device, taps);
    if (!outcome || outcome->stored_through_seq != next_seq - 1) {
      state.SkipWithError("watermark did not advance");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_IngestOverTls(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  ScratchDir dir(bench_parent_dir());
  auto backoffice = start_backoffice(state, dir.path());
  if (!backoffice) return;
  const std::string device = "bench-gate-01";
  SyncTestClient client;
  if (!client.connect_tls(backoffice->ports[0], backoffice->pki.client_context(device)) ||
      !client.say_hello(device)) {
    state.SkipWithError("cannot open a TLS sync session");
    return;
  }
  const auto batch_taps = static_cast<std::uint64_t>(state.range(0));
  auto taps = faregate::testing::make_taps(device, 1, batch_taps);
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
}

void BM_IngestOverTlsValidators(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  constexpr int kValidators = 4;
  ScratchDir dir(bench_parent_dir());
  auto backoffice = start_backoffice(state, dir.path());
  if (!backoffice) return;
  const auto batch_taps = static_cast<std::uint64_t>(state.range(0));
  auto validators = faregate::bench::open_batch_validators(state, *backoffice, kValidators,
                                                           batch_taps);
  if (validators.empty()) return;
  for (auto _ : state) {
    // Each validator sends one batch and waits for its ack, all at once.
    if (!faregate::bench::send_batches_at_once(state, validators)) return;
  }
  state.SetItemsProcessed(state.iterations() * state.range(0) * kValidators);
  for (auto& v : validators) v.client->close();
}

void BM_TlsHandshake(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  ScratchDir dir(bench_parent_dir());
  auto backoffice = start_backoffice(state, dir.path());
  if (!backoffice) return;
  auto context = backoffice->pki.client_context("bench-gate-01");
  for (auto _ : state) {
    SyncTestClient client;
    if (!client.connect_tls(backoffice->ports[0], context)) {
      state.SkipWithError("handshake failed");
      return;
    }
    client.close();
  }
  state.SetItemsProcessed(state.iterations());
}

// The end-to-end rates next to the raw store's, after the table.
void print_summary(const faregate::bench::RateKeeper& rates) {
  for (const char* batch : {"1000", "100"}) {
    const auto raw = rates.rate(std::string("BM_StoreBatch/") + batch + "/real_time");
    const auto tls = rates.rate(std::string("BM_IngestOverTls/") + batch + "/real_time");
    if (!raw || !tls || *raw <= 0) continue;
    std::printf("%s-tap batches: end to end over TLS %.0f taps/s = %.2fx the raw store rate "
                "(%.0f taps/s)\n",
                batch, *tls, *tls / *raw, *raw);
  }
}

}  // namespace

BENCHMARK(BM_StoreBatch)->Arg(1000)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IngestOverTls)->Arg(1000)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IngestOverTlsValidators)->Arg(1000)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TlsHandshake)->UseRealTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  return faregate::bench::run_benchmarks(argc, argv, print_summary);
}
