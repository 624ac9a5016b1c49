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

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <string>
#include <vector>

#include "backoffice/ingest/ingest_server.h"
#include "backoffice/store/sqlite_tap_store.h"
#include "common/tls/server_credentials.h"
#include "tests/backoffice/backoffice_test_support.h"
#include "tests/backoffice/sync_test_client.h"
#include "tests/common/tls/test_pki.h"

namespace {

using faregate::store::SqliteTapStore;
using faregate::testing::ScratchDir;
using faregate::testing::SyncTestClient;
using faregate::testing::TestPki;
namespace v1 = faregate::v1;

std::filesystem::path bench_parent_dir() {
  const char* chosen = std::getenv("FAREGATE_BENCH_DIR");
  return chosen != nullptr && *chosen != '\0' ? std::filesystem::path(chosen)
                                              : std::filesystem::temp_directory_path();
}

void restamp(std::vector<v1::TapRecord>& taps, std::uint64_t& next_seq) {
  for (auto& tap : taps) tap.set_seq(next_seq++);
}

// A back office with TLS credentials from a throw-away CA, its store in `dir`.
struct TlsBackoffice {
  explicit TlsBackoffice(const std::filesystem::path& dir) {
    const auto tls_dir = dir / "tls";
    std::filesystem::create_directories(tls_dir);
    const auto files = faregate::tls::server_files_in(tls_dir);
    for (const auto& [path, text] :
         {std::pair{files.certificate, pki.server().certificate_pem},
          std::pair{files.private_key, pki.server().private_key_pem},
          std::pair{files.client_ca, pki.ca_pem()},
          std::pair{files.revocation_list, pki.revocation_list({})}}) {
      std::ofstream(path) << text;
    }
    auto credentials = faregate::tls::ServerCredentials::load(files);
    auto opened = SqliteTapStore::open(dir / "taps.db");
    if (!credentials || !opened) {
      error = !credentials ? credentials.error().describe() : opened.error().describe();
      return;
    }
    store = std::move(*opened);
    faregate::ingest::IngestOptions options;
    options.tls = *credentials;
    server = std::make_unique<faregate::ingest::IngestServer>(*store, options);
    auto bound = server->start();
    if (!bound) {
      error = bound.error().describe();
      return;
    }
    port = *bound;
  }

  TestPki pki;
  std::unique_ptr<SqliteTapStore> store;
  std::unique_ptr<faregate::ingest::IngestServer> server;
  std::uint16_t port = 0;
  std::string error;
};

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
  TlsBackoffice backoffice(dir.path());
  if (!backoffice.error.empty()) {
    state.SkipWithError(backoffice.error.c_str());
    return;
  }
  const std::string device = "bench-gate-01";
  SyncTestClient client;
  if (!client.connect_tls(backoffice.port, backoffice.pki.client_context(device)) ||
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
  backoffice.server->stop();
}

void BM_IngestOverTlsValidators(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  constexpr int kValidators = 4;
  ScratchDir dir(bench_parent_dir());
  TlsBackoffice backoffice(dir.path());
  if (!backoffice.error.empty()) {
    state.SkipWithError(backoffice.error.c_str());
    return;
  }
  const auto batch_taps = static_cast<std::uint64_t>(state.range(0));
  struct Validator {
    std::string device;
    std::unique_ptr<SyncTestClient> client;
    std::vector<v1::TapRecord> taps;
    std::uint64_t next_seq = 1;
  };
  std::vector<Validator> validators;
  for (int i = 0; i < kValidators; ++i) {
    Validator v;
    v.device = "bench-gate-" + std::to_string(i + 1);
    v.client = std::make_unique<SyncTestClient>();
    if (!v.client->connect_tls(backoffice.port, backoffice.pki.client_context(v.device)) ||
        !v.client->say_hello(v.device)) {
      state.SkipWithError("cannot open a TLS sync session");
      return;
    }
    v.taps = faregate::testing::make_taps(v.device, 1, batch_taps);
    validators.push_back(std::move(v));
  }
  for (auto _ : state) {
    // Each validator sends one batch and waits for its ack, all at once.
    std::vector<std::future<bool>> acks;
    for (auto& v : validators) {
      acks.push_back(std::async(std::launch::async, [&v] {
        restamp(v.taps, v.next_seq);
        auto ack = v.client->send_batch(v.taps);
        return ack && ack->stored_through_seq() == v.next_seq - 1;
      }));
    }
    for (auto& ack : acks) {
      if (!ack.get()) {
        state.SkipWithError("batch not acknowledged");
        return;
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0) * kValidators);
  for (auto& v : validators) v.client->close();
  backoffice.server->stop();
}

void BM_TlsHandshake(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  ScratchDir dir(bench_parent_dir());
  TlsBackoffice backoffice(dir.path());
  if (!backoffice.error.empty()) {
    state.SkipWithError(backoffice.error.c_str());
    return;
  }
  auto context = backoffice.pki.client_context("bench-gate-01");
  for (auto _ : state) {
    SyncTestClient client;
    if (!client.connect_tls(backoffice.port, context)) {
      state.SkipWithError("handshake failed");
      return;
    }
    client.close();
  }
  state.SetItemsProcessed(state.iterations());
  backoffice.server->stop();
}

// Prints the table as usual and remembers each benchmark's rate for the summary.
class RateKeeper : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      const auto items = run.counters.find("items_per_second");
      if (items != run.counters.end()) rates_[run.benchmark_name()] = items->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void summary() const {
    for (const char* batch : {"1000", "100"}) {
      const auto raw = rates_.find(std::string("BM_StoreBatch/") + batch + "/real_time");
      const auto tls = rates_.find(std::string("BM_IngestOverTls/") + batch + "/real_time");
      if (raw == rates_.end() || tls == rates_.end() || raw->second <= 0) continue;
      std::printf("%s-tap batches: end to end over TLS %.0f taps/s = %.2fx the raw store rate "
                  "(%.0f taps/s)\n",
                  batch, tls->second, tls->second / raw->second, raw->second);
    }
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace

BENCHMARK(BM_StoreBatch)->Arg(1000)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IngestOverTls)->Arg(1000)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IngestOverTlsValidators)->Arg(1000)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TlsHandshake)->UseRealTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RateKeeper reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.summary();
  benchmark::Shutdown();
  return 0;
}
