// PostgreSQL ingest throughput, in taps per second, on a throw-away local server that
// bench/run.sh starts for the run (tests/support/postgres_fixture.sh with fsync on, so commits
// reach the disk as in production):
//   BM_PgRawCopy           the batch's rows COPYed (binary) into a plain table keyed by
//                          (device_id, seq), one transaction per batch: the floor of what any
//                          PostgreSQL ingest of these rows costs
//   BM_PgStoreBatch        PostgresqlTapStore::store_batch with the same rows: staging COPY, key
//                          table, day partition, device watermark, one transaction per batch.
//                          threads:2 = two ingest nodes (a store and a connection each) storing
//                          two devices' batches into the same tables at once
//   BM_PgStoreBatchResent  the same batch again, all duplicates: the path of a lost ack
//   BM_PgIngestOverTls     end to end: four validators on loopback, each sending 1000-tap
//                          TapBatches over mutual TLS and waiting for its BatchAck, through 1 or
//                          2 ingest nodes (IngestServer + PostgresqlTapStore, a connection each)
//                          on one database. Compared with BM_PgRawCopy/1000 after the table.
//   BM_BacklogBurst        100 validators that were offline for a day reconnect at once and
//                          replay 2,000 taps each (mutual TLS handshake, Hello, 500-tap batches)
//                          into one back office, on SQLite (arg 0) or PostgreSQL (arg 1); one
//                          timed burst, checked afterwards: the store holds exactly 200,000 taps
//                          and every validator's watermark is 2,000.
// Every run uses a fresh schema. Real time is reported: the work is in the server.

#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <latch>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "backoffice/store/postgresql_tap_store.h"
#include "backoffice/store/sqlite_tap_store.h"
#include "bench/ingest_bench_support.h"
#include "tests/backoffice/backoffice_test_support.h"
#include "tests/backoffice/sync_test_client.h"
#include "tests/support/postgres_test_server.h"

namespace {

using faregate::bench::bench_parent_dir;
using faregate::bench::keep_store;
using faregate::bench::restamp;
using faregate::bench::start_nodes;
using faregate::bench::TlsNodes;
using faregate::store::PostgresqlTapStore;
using faregate::testing::PgTestSchema;
namespace v1 = faregate::v1;

// One schema shared by the threads of a run, dropped when the last of them ends.
std::shared_ptr<PgTestSchema> shared_schema() {
  static std::mutex mutex;
  static std::weak_ptr<PgTestSchema> current;
  std::lock_guard lock(mutex);
  auto schema = current.lock();
  if (!schema) {
    schema = std::make_shared<PgTestSchema>();
    current = schema;
  }
  return schema;
}

void append_be(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

// COPY ... (FORMAT binary) rows: device_id, seq, tap_time_utc_ms, card_token, record.
std::string copy_rows(const std::vector<v1::TapRecord>& taps) {
  std::string data("PGCOPY\n\377\r\n\0", 11);
  append_be(data, 0, 4);
  append_be(data, 0, 4);
  std::string record;
  for (const auto& tap : taps) {
    record.clear();
    tap.SerializeToString(&record);
    append_be(data, 5, 2);
    append_be(data, tap.device_id().size(), 4);
    data += tap.device_id();
    append_be(data, 8, 4);
    append_be(data, tap.seq(), 8);
    append_be(data, 8, 4);
    append_be(data, static_cast<std::uint64_t>(tap.tap_time_utc_ms()), 8);
    append_be(data, tap.card_token().size(), 4);
    data += tap.card_token();
    append_be(data, record.size(), 4);
    data += record;
  }
  append_be(data, 0xFFFF, 2);
  return data;
}

// One COPY statement (one transaction); an error message or "".
std::string copy_in(PGconn* conn, const std::string& data) {
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> start(PQexec(conn, "COPY raw_taps FROM STDIN (FORMAT binary)"));
  if (PQresultStatus(start.get()) != PGRES_COPY_IN) return PQerrorMessage(conn);
  if (PQputCopyData(conn, data.data(), static_cast<int>(data.size())) != 1 ||
      PQputCopyEnd(conn, nullptr) != 1) {
    return PQerrorMessage(conn);
  }
  std::string error;
  while (PGresult* raw = PQgetResult(conn)) {
    std::unique_ptr<PGresult, Clear> result(raw);
    if (PQresultStatus(raw) != PGRES_COMMAND_OK && error.empty()) error = PQerrorMessage(conn);
  }
  return error;
}

void BM_PgRawCopy(benchmark::State& state) {
  try {
    PgTestSchema schema;
    schema.admin().exec(
        "CREATE TABLE raw_taps (device_id text NOT NULL, seq bigint NOT NULL,"
        " tap_time_utc_ms bigint NOT NULL, card_token bytea NOT NULL, record bytea NOT NULL,"
        " PRIMARY KEY (device_id, seq))");
    auto taps =
        faregate::testing::make_taps("bench-node-0", 1, static_cast<std::uint64_t>(state.range(0)));
    std::uint64_t next_seq = 1;
    for (auto _ : state) {
      restamp(taps, next_seq);
      const std::string error = copy_in(schema.admin().get(), copy_rows(taps));
      if (!error.empty()) {
        state.SkipWithError(error.c_str());
        return;
      }
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void BM_PgStoreBatch(benchmark::State& state) {
  try {
    const auto schema = shared_schema();
    auto store = PostgresqlTapStore::open(schema->uri());
    if (!store) {
      state.SkipWithError(store.error().describe().c_str());
      return;
    }
    const std::string device = "bench-node-" + std::to_string(state.thread_index());
    auto taps = faregate::testing::make_taps(device, 1, static_cast<std::uint64_t>(state.range(0)));
    std::uint64_t next_seq = 1;
    for (auto _ : state) {
      restamp(taps, next_seq);
      auto outcome = (*store)->store_batch(device, taps);
      if (!outcome || outcome->stored_through_seq != next_seq - 1) {
        state.SkipWithError(outcome ? "watermark did not advance"
                                    : outcome.error().describe().c_str());
        return;
      }
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void BM_PgStoreBatchResent(benchmark::State& state) {
  try {
    PgTestSchema schema;
    auto store = PostgresqlTapStore::open(schema.uri());
    if (!store) {
      state.SkipWithError(store.error().describe().c_str());
      return;
    }
    const auto taps =
        faregate::testing::make_taps("bench-node-0", 1, static_cast<std::uint64_t>(state.range(0)));
    if (!(*store)->store_batch("bench-node-0", taps)) {
      state.SkipWithError("first store failed");
      return;
    }
    for (auto _ : state) {
      auto outcome = (*store)->store_batch("bench-node-0", taps);
      if (!outcome || outcome->duplicates != taps.size()) {
        state.SkipWithError("resend not counted as duplicates");
        return;
      }
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void BM_PgIngestOverTls(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  constexpr int kValidators = 4;
  constexpr std::uint64_t kBatch = 1000;
  try {
    PgTestSchema schema;
    faregate::testing::ScratchDir dir(bench_parent_dir());
    std::vector<std::unique_ptr<faregate::store::TapStore>> stores;
    for (int n = 0; n < state.range(0); ++n) {
      if (!keep_store(state, PostgresqlTapStore::open(schema.uri()), stores)) return;
    }
    auto nodes = start_nodes(state, dir.path(), std::move(stores));
    if (!nodes) return;
    auto validators = faregate::bench::open_batch_validators(state, *nodes, kValidators, kBatch);
    if (validators.empty()) return;
    for (auto _ : state) {
      if (!faregate::bench::send_batches_at_once(state, validators)) return;
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kBatch) * kValidators);
    for (auto& v : validators) v.client->close();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

void BM_BacklogBurst(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  constexpr int kValidators = 100;
  constexpr std::uint64_t kTapsEach = 2000;
  constexpr std::uint64_t kBatch = 500;
  const bool postgresql = state.range(0) == 1;
  try {
    for (auto _ : state) {
      std::unique_ptr<PgTestSchema> schema;
      faregate::testing::ScratchDir dir(bench_parent_dir());
      std::vector<std::unique_ptr<faregate::store::TapStore>> stores;
      if (postgresql) {
        schema = std::make_unique<PgTestSchema>();
        if (!keep_store(state, PostgresqlTapStore::open(schema->uri()), stores)) return;
      } else {
        const auto path = dir.path() / "taps.db";
        if (!keep_store(state, faregate::store::SqliteTapStore::open(path), stores)) return;
      }
      auto started = start_nodes(state, dir.path(), std::move(stores));
      if (!started) return;
      TlsNodes& nodes = *started;
      // Certificates and the day's journals are made before the clock starts.
      std::vector<std::shared_ptr<const faregate::tls::ClientContext>> contexts;
      std::vector<std::vector<v1::TapRecord>> journals;
      for (int i = 0; i < kValidators; ++i) {
        const std::string device = "burst-gate-" + std::to_string(i);
        contexts.push_back(nodes.pki.client_context(device));
        journals.push_back(faregate::testing::make_taps(device, 1, kTapsEach));
      }
      std::latch go(kValidators + 1);
      std::vector<int> ok(kValidators, 0);
      std::vector<std::thread> threads;
      for (int i = 0; i < kValidators; ++i) {
        threads.emplace_back([&, i] {
          const auto index = static_cast<std::size_t>(i);
          const std::string device = "burst-gate-" + std::to_string(i);
          go.arrive_and_wait();
          faregate::testing::SyncTestClient client;
          const auto wait = std::chrono::milliseconds(120'000);
          if (!client.connect_tls(nodes.ports[0], contexts[index], wait)) return;
          if (!client.send(faregate::testing::SyncTestClient::hello(device, kTapsEach))) return;
          auto hello = client.receive(wait);
          if (hello.event != faregate::testing::SyncTestClient::Event::kFrame ||
              !hello.frame.has_hello_ack()) {
            return;
          }
          const auto& journal = journals[index];
          for (std::size_t at = 0; at < journal.size(); at += kBatch) {
            const std::vector<v1::TapRecord> batch(
                journal.begin() + static_cast<std::ptrdiff_t>(at),
                journal.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(at + kBatch, journal.size())));
            if (!client.send(faregate::testing::SyncTestClient::batch(batch), wait)) return;
            auto reply = client.receive(wait);
            if (reply.event != faregate::testing::SyncTestClient::Event::kFrame ||
                !reply.frame.has_batch_ack() ||
                reply.frame.batch_ack().stored_through_seq() != at + batch.size()) {
              return;
            }
          }
          client.close();
          ok[index] = 1;
        });
      }
      const auto start = std::chrono::steady_clock::now();
      go.arrive_and_wait();
      for (auto& t : threads) t.join();
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      state.SetIterationTime(seconds);
      int acknowledged = 0;
      for (const int v : ok) acknowledged += v;
      auto held = nodes.stores[0]->tap_count();
      auto summaries = nodes.stores[0]->device_summaries();
      bool exact = held && summaries && *held == kValidators * kTapsEach &&
                   summaries->size() == static_cast<std::size_t>(kValidators);
      if (summaries) {
        for (const auto& s : *summaries) exact = exact && s.stored_through_seq == kTapsEach && s.tap_count == kTapsEach;
      }
      if (acknowledged != kValidators || !exact) {
        state.SkipWithError(("burst not stored exactly: " + std::to_string(acknowledged) +
                             " validators fully acknowledged, store holds " +
                             (held ? std::to_string(*held) : held.error().describe()))
                                .c_str());
        return;
      }
      state.counters["wall_s"] = seconds;
      state.counters["stored"] = static_cast<double>(*held);
      std::printf("backlog burst, %s: %d validators x %llu taps, wall %.2f s, %.0f taps/s, store holds %llu (exact)\n",
                  postgresql ? "postgresql" : "sqlite", kValidators,
                  static_cast<unsigned long long>(kTapsEach), seconds,
                  static_cast<double>(kValidators * kTapsEach) / seconds,
                  static_cast<unsigned long long>(*held));
    }
    state.SetItemsProcessed(state.iterations() * kValidators * static_cast<std::int64_t>(kTapsEach));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// The end-to-end rates next to raw COPY's, after the table.
void print_summary(const faregate::bench::RateKeeper& rates) {
  const auto raw = rates.rate("BM_PgRawCopy/1000/real_time");
  if (!raw || *raw <= 0) return;
  for (const char* nodes : {"1", "2"}) {
    const auto tls = rates.rate(std::string("BM_PgIngestOverTls/") + nodes + "/real_time");
    if (!tls) continue;
    std::printf("end to end over TLS into PostgreSQL, %s ingest node(s), 4 validators, 1000-tap "
                "batches: %.0f taps/s = %.2fx raw COPY of the same rows (%.0f taps/s)\n",
                nodes, *tls, *tls / *raw, *raw);
  }
}

}  // namespace

BENCHMARK(BM_PgRawCopy)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(5000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PgStoreBatch)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(5000)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PgStoreBatchResent)->Arg(1000)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK(BM_PgIngestOverTls)
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BacklogBurst)
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  return faregate::bench::run_benchmarks(argc, argv, print_summary);
}
