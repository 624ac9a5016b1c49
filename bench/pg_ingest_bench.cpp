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
// Every run uses a fresh schema. Real time is reported: the work is in the server.

#include <benchmark/benchmark.h>
#include <libpq-fe.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "backoffice/store/postgresql_tap_store.h"
#include "tests/backoffice/backoffice_test_support.h"
#include "tests/support/postgres_test_server.h"

namespace {

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

void restamp(std::vector<v1::TapRecord>& taps, std::uint64_t& next_seq) {
  for (auto& tap : taps) tap.set_seq(next_seq++);
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

BENCHMARK_MAIN();
