#pragma once
// What the ingest benchmarks over mutual TLS share (tls_ingest_bench.cpp, pg_ingest_bench.cpp):
// the scratch location, ingest nodes with credentials from a throw-away CA, and validators that
// each send a batch and wait for its acknowledgement, all at once. Every helper that can fail
// skips the benchmark with the reason (State::SkipWithError) and returns false or null.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backoffice/ingest/ingest_server.h"
#include "backoffice/store/tap_store.h"
#include "common/tls/server_credentials.h"
#include "faregate/v1/tap.pb.h"
#include "tests/backoffice/backoffice_test_support.h"
#include "tests/backoffice/sync_test_client.h"
#include "tests/common/tls/test_pki.h"

namespace faregate::bench {

// Scratch folders go under $FAREGATE_BENCH_DIR when set (a real disk, for fsync costs), else
// under the system's temporary directory.
inline std::filesystem::path bench_parent_dir() {
  const char* chosen = std::getenv("FAREGATE_BENCH_DIR");
  return chosen != nullptr && *chosen != '\0' ? std::filesystem::path(chosen)
                                              : std::filesystem::temp_directory_path();
}

// Gives `taps` the next sequence numbers, so that each resend is new to the store.
inline void restamp(std::vector<v1::TapRecord>& taps, std::uint64_t& next_seq) {
  for (auto& tap : taps) tap.set_seq(next_seq++);
}

// Moves a store that opened into `stores`. Returns false (skipped) when it did not open.
template <typename StorePtr>
bool keep_store(benchmark::State& state, Result<StorePtr> opened,
                std::vector<std::unique_ptr<store::TapStore>>& stores) {
  if (!opened) {
    state.SkipWithError(opened.error().describe().c_str());
    return false;
  }
  stores.push_back(std::move(*opened));
  return true;
}

// Ingest nodes over mutual TLS, credentials from a throw-away CA written to dir/tls: one
// IngestServer per store. `error` is empty when every node listens (on `ports`).
struct TlsNodes {
  TlsNodes(const std::filesystem::path& dir,
           std::vector<std::unique_ptr<store::TapStore>> node_stores)
      : stores(std::move(node_stores)) {
    const auto tls_dir = dir / "tls";
    std::filesystem::create_directories(tls_dir);
    const auto files = tls::server_files_in(tls_dir);
    for (const auto& [path, text] :
         {std::pair{files.certificate, pki.server().certificate_pem},
          std::pair{files.private_key, pki.server().private_key_pem},
          std::pair{files.client_ca, pki.ca_pem()},
          std::pair{files.revocation_list, pki.revocation_list({})}}) {
      std::ofstream(path) << text;
    }
    auto credentials = tls::ServerCredentials::load(files);
    if (!credentials) {
      error = credentials.error().describe();
      return;
    }
    for (auto& store : stores) {
      ingest::IngestOptions options;
      options.tls = *credentials;
      servers.push_back(std::make_unique<ingest::IngestServer>(*store, options));
      auto bound = servers.back()->start();
      if (!bound) {
        error = bound.error().describe();
        return;
      }
      ports.push_back(*bound);
    }
  }
  ~TlsNodes() {
    for (auto& server : servers) server->stop();
  }
  TlsNodes(const TlsNodes&) = delete;
  TlsNodes& operator=(const TlsNodes&) = delete;

  testing::TestPki pki;
  std::vector<std::unique_ptr<store::TapStore>> stores;
  std::vector<std::unique_ptr<ingest::IngestServer>> servers;
  std::vector<std::uint16_t> ports;
  std::string error;
};

// TlsNodes that all started, or null (skipped).
inline std::unique_ptr<TlsNodes> start_nodes(benchmark::State& state,
                                             const std::filesystem::path& dir,
                                             std::vector<std::unique_ptr<store::TapStore>> stores) {
  auto nodes = std::make_unique<TlsNodes>(dir, std::move(stores));
  if (!nodes->error.empty()) {
    state.SkipWithError(nodes->error.c_str());
    return nullptr;
  }
  return nodes;
}

// A validator with an open sync session and one batch of taps to send again and again.
struct BatchValidator {
  std::string device;
  std::unique_ptr<testing::SyncTestClient> client;
  std::vector<v1::TapRecord> taps;
  std::uint64_t next_seq = 1;
};

// `count` validators bench-gate-1, bench-gate-2, ..., validator i connected to
// nodes.ports[i % ports] and said hello, each with `batch_taps` taps. Empty (skipped) when a
// session did not open.
inline std::vector<BatchValidator> open_batch_validators(benchmark::State& state, TlsNodes& nodes,
                                                         int count, std::uint64_t batch_taps) {
  std::vector<BatchValidator> validators;
  for (int i = 0; i < count; ++i) {
    BatchValidator v;
    v.device = "bench-gate-" + std::to_string(i + 1);
    v.client = std::make_unique<testing::SyncTestClient>();
    const auto port = nodes.ports[static_cast<std::size_t>(i) % nodes.ports.size()];
    if (!v.client->connect_tls(port, nodes.pki.client_context(v.device)) ||
        !v.client->say_hello(v.device)) {
      state.SkipWithError("cannot open a TLS sync session");
      return {};
    }
    v.taps = testing::make_taps(v.device, 1, batch_taps);
    validators.push_back(std::move(v));
  }
  return validators;
}

// One round: each validator sends its batch (restamped) and waits for its ack, all at once.
// Returns false (skipped) when a batch was not acknowledged.
inline bool send_batches_at_once(benchmark::State& state, std::vector<BatchValidator>& validators) {
  std::vector<std::future<bool>> acks;
  for (auto& v : validators) {
    acks.push_back(std::async(std::launch::async, [&v] {
      restamp(v.taps, v.next_seq);
      auto ack = v.client->send_batch(v.taps);
      return ack && ack->stored_through_seq() == v.next_seq - 1;
    }));
  }
  bool all = true;
  for (auto& ack : acks) all = ack.get() && all;
  if (!all) state.SkipWithError("batch not acknowledged");
  return all;
}

// Prints the table as usual and remembers each benchmark's rate for a summary after it.
class RateKeeper : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      const auto items = run.counters.find("items_per_second");
      if (items != run.counters.end()) rates_[run.benchmark_name()] = items->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  // Items per second of the run named `name` ("BM_X/1000/real_time"); none if it reported none.
  std::optional<double> rate(const std::string& name) const {
    const auto found = rates_.find(name);
    if (found == rates_.end()) return std::nullopt;
    return found->second;
  }

 private:
  std::map<std::string, double> rates_;
};

// The body of a benchmark program's main(): runs the benchmarks the arguments select through a
// RateKeeper, then prints `summary` of it. Returns the exit code (1: unrecognised arguments).
inline int run_benchmarks(int argc, char** argv,
                          const std::function<void(const RateKeeper&)>& summary) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RateKeeper reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  summary(reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace faregate::bench
