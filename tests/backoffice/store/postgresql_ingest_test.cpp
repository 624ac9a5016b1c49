// Two back-office ingest nodes (IngestServer + its own PostgresqlTapStore connection each) on
// one PostgreSQL database, twenty validators syncing through both at once over loopback TCP:
// each validator talks to both nodes, batches overlap, skip ahead, are resent, go through both
// nodes at once, and some acks are never read. At the end every tap is stored exactly once, byte
// for byte, each watermark is exact, and the nodes' insert counts add up to the number of taps
// made.

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backoffice/ingest/ingest_server.h"
#include "backoffice/store/postgresql_tap_store.h"
#include "tests/backoffice/backoffice_test_support.h"
#include "tests/backoffice/sync_test_client.h"
#include "tests/support/postgres_test_server.h"

using faregate::ingest::IngestServer;
using faregate::store::PostgresqlTapStore;
using faregate::testing::make_tap;
using faregate::testing::PgTestSchema;
using faregate::testing::SyncTestClient;
namespace v1 = faregate::v1;

namespace {

constexpr int kValidators = 20;
constexpr std::uint64_t kTapsPerValidator = 150;

std::string device_name(int validator) {
  return "val-" + std::string(validator < 10 ? "0" : "") + std::to_string(validator);
}

v1::TapRecord validator_tap(int validator, std::uint64_t seq) {
  return make_tap(device_name(validator), seq, static_cast<std::uint8_t>(validator + 1));
}

std::vector<v1::TapRecord> validator_taps(int validator, std::uint64_t first, std::uint64_t last) {
  std::vector<v1::TapRecord> taps;
  for (std::uint64_t seq = first; seq <= last; ++seq) taps.push_back(validator_tap(validator, seq));
  return taps;
}

// What one validator saw; checked by the test thread.
struct ValidatorLog {
  std::vector<std::string> failures;
  std::uint64_t sessions = 0;
  std::uint64_t acked_inserted = 0;
  std::uint64_t resends = 0;
  std::uint64_t unread_acks = 0;
  std::uint64_t doubled = 0;  // batches sent through both nodes at once
  std::uint64_t final_ack = 0;
};

// Syncs taps 1..kTapsPerValidator through the two nodes until a node acknowledges all of them.
// Each session talks to both nodes: most batches go to one of them, some to both at once (a
// validator whose link dropped retries through the other node while the first is still
// committing), so that one device's batches race through both nodes.
void run_validator(int validator, const std::array<std::uint16_t, 2>& ports, ValidatorLog& log) {
  std::mt19937_64 random(0x5EED0000 + static_cast<std::uint64_t>(validator));
  const std::string device = device_name(validator);
  std::uint64_t watermark = 0;  // highest ack seen: acks must never go backwards
  auto fail = [&log](std::string what) { log.failures.push_back(std::move(what)); };
  // Checks one ack of a batch of `size` taps; false if there was none.
  auto check_ack = [&](const std::optional<v1::BatchAck>& ack, std::size_t size,
                       std::uint64_t floor) {
    if (!ack) {
      fail("no BatchAck");
      return false;
    }
    if (ack->conflicts() != 0) fail("conflict reported for an unchanged tap");
    if (ack->inserted() + ack->duplicates() != size) fail("ack counts do not add up");
    if (ack->stored_through_seq() < floor) fail("BatchAck went backwards");
    log.acked_inserted += ack->inserted();
    watermark = std::max(watermark, ack->stored_through_seq());
    return true;
  };

  for (int attempt = 0; attempt < 400 && watermark < kTapsPerValidator; ++attempt) {
    std::array<SyncTestClient, 2> clients;
    bool connected = true;
    for (std::size_t node = 0; node < 2 && connected; ++node) {
      connected = clients[node].connect(ports[node]);
      auto hello = connected ? clients[node].say_hello(device, kTapsPerValidator) : std::nullopt;
      if (!hello) {
        fail("no HelloAck");
        connected = false;
        break;
      }
      if (hello->stored_through_seq() < watermark) fail("HelloAck went backwards");
      watermark = std::max(watermark, hello->stored_through_seq());
    }
    if (!connected) return;
    ++log.sessions;

    const int batches = 1 + static_cast<int>(random() % 4);
    for (int b = 0; b < batches && watermark < kTapsPerValidator; ++b) {
      // Mostly the next taps, overlapping what is held; sometimes a batch that skips ahead and
      // leaves a gap for a later session to fill.
      const std::uint64_t overlap = random() % 8;
      std::uint64_t first = watermark + 1 > overlap ? watermark + 1 - overlap : 1;
      if (random() % 5 == 0) first = watermark + 1 + random() % 20;
      if (first > kTapsPerValidator) first = kTapsPerValidator;
      const std::uint64_t last = std::min(kTapsPerValidator, first + random() % 30);
      const auto taps = validator_taps(validator, first, last);
      const std::uint64_t floor = watermark;
      const auto choice = random() % 10;

      if (choice == 0) {
        // The link drops right after the batch went out: the ack is never read.
        clients[random() % 2].send(SyncTestClient::batch(taps));
        ++log.unread_acks;
        break;
      }
      if (choice <= 3) {
        // A retry through the other node while the first still commits: the retry overlaps the
        // first batch and carries the taps journaled meanwhile. The acks come in either order.
        const std::uint64_t retry_first = first + (last - first) / 2;
        const auto retry = validator_taps(validator, retry_first,
                                          std::min(kTapsPerValidator, last + 1 + random() % 10));
        const bool a_first = random() % 2 == 0;
        const std::array<const std::vector<v1::TapRecord>*, 2> sent = {a_first ? &taps : &retry,
                                                                       a_first ? &retry : &taps};
        if (!clients[0].send(SyncTestClient::batch(*sent[0])) ||
            !clients[1].send(SyncTestClient::batch(*sent[1]))) {
          fail("cannot send");
          break;
        }
        ++log.doubled;
        bool acked = true;
        for (std::size_t node = 0; node < 2; ++node) {
          auto reply = clients[node].receive();
          std::optional<v1::BatchAck> ack;
          if (reply.event == SyncTestClient::Event::kFrame && reply.frame.has_batch_ack()) {
            ack = reply.frame.batch_ack();
          }
          acked = check_ack(ack, sent[node]->size(), floor) && acked;
        }
        if (!acked) break;
        continue;
      }
      auto& client = clients[random() % 2];
      if (!check_ack(client.send_batch(taps), taps.size(), floor)) break;
      if (random() % 6 == 0) {
        // A resend of the same batch (the validator did not get the ack in time): nothing new.
        auto again = client.send_batch(taps);
        ++log.resends;
        if (!again) {
          fail("no BatchAck for a resend");
          break;
        }
        if (again->inserted() != 0 || again->duplicates() != taps.size()) {
          fail("a resent batch was not all duplicates");
        }
      }
    }
    for (auto& client : clients) client.close();
  }
  log.final_ack = watermark;
}

}  // namespace

TEST_CASE(
    "two ingest nodes on one PostgreSQL database take twenty validators at once with "
    "exact totals",
    "[postgresql]") {
  PgTestSchema schema;
  auto store_a = PostgresqlTapStore::open(schema.uri());
  REQUIRE(store_a);
  auto store_b = PostgresqlTapStore::open(schema.uri());
  REQUIRE(store_b);
  IngestServer node_a(**store_a);
  IngestServer node_b(**store_b);
  auto port_a = node_a.start();
  REQUIRE(port_a);
  auto port_b = node_b.start();
  REQUIRE(port_b);
  const std::array<std::uint16_t, 2> ports = {*port_a, *port_b};

  std::vector<ValidatorLog> logs(kValidators);
  {
    std::vector<std::thread> validators;
    for (int v = 0; v < kValidators; ++v) {
      validators.emplace_back(run_validator, v, std::cref(ports),
                              std::ref(logs[static_cast<std::size_t>(v)]));
    }
    for (auto& thread : validators) thread.join();
  }
  node_a.stop();
  node_b.stop();

  std::uint64_t sessions = 0;
  std::uint64_t resends = 0;
  std::uint64_t unread = 0;
  std::uint64_t doubled = 0;
  for (int v = 0; v < kValidators; ++v) {
    const auto& log = logs[static_cast<std::size_t>(v)];
    INFO(device_name(v));
    for (const auto& failure : log.failures) UNSCOPED_INFO(failure);
    CHECK(log.failures.empty());
    CHECK(log.final_ack == kTapsPerValidator);
    sessions += log.sessions;
    resends += log.resends;
    unread += log.unread_acks;
    doubled += log.doubled;
  }

  const auto a = node_a.counters();
  const auto b = node_b.counters();
  const std::uint64_t made = kValidators * kTapsPerValidator;
  std::cout << "two ingest nodes, " << kValidators << " validators: " << sessions
            << " sessions (each with both nodes), batches acknowledged " << a.batches << " + "
            << b.batches << ", "
            << doubled << " sent through both nodes at once, " << resends << " resends, " << unread
            << " unread acks; inserted " << (a.taps_inserted + b.taps_inserted) << " of " << made
            << " taps made, duplicates " << (a.taps_duplicate + b.taps_duplicate) << ", conflicts "
            << (a.taps_conflicting + b.taps_conflicting) << "\n";
  // Both nodes did real work.
  CHECK(a.taps_inserted > 0);
  CHECK(b.taps_inserted > 0);
  // Each tap inserted exactly once over both nodes, never in conflict, no store error.
  CHECK(a.taps_inserted + b.taps_inserted == made);
  CHECK(a.taps_conflicting + b.taps_conflicting == 0);
  CHECK(a.store_errors + b.store_errors == 0);
  CHECK(a.total_violations() + b.total_violations() == 0);

  auto reader = PostgresqlTapStore::open(schema.uri());
  REQUIRE(reader);
  CHECK((*reader)->tap_count().value() == made);
  CHECK((*reader)->conflicts().value().empty());
  CHECK(schema.admin().query_int("SELECT count(*) FROM taps") == static_cast<std::int64_t>(made));
  CHECK(schema.admin().query_int("SELECT count(*) FROM tap_keys") ==
        static_cast<std::int64_t>(made));
  const auto summaries = (*reader)->device_summaries().value();
  REQUIRE(summaries.size() == kValidators);
  for (int v = 0; v < kValidators; ++v) {
    const std::string device = device_name(v);
    INFO(device);
    const auto& summary = summaries[static_cast<std::size_t>(v)];
    CHECK(summary.device_id == device);
    CHECK(summary.stored_through_seq == kTapsPerValidator);
    CHECK(summary.max_seq == kTapsPerValidator);
    CHECK(summary.tap_count == kTapsPerValidator);
    auto held = (*reader)->taps_of_device(device, 1, kTapsPerValidator + 1);
    REQUIRE(held);
    REQUIRE(held->size() == kTapsPerValidator);
    for (std::uint64_t seq = 1; seq <= kTapsPerValidator; ++seq) {
      CHECK(held->at(seq - 1).SerializeAsString() == validator_tap(v, seq).SerializeAsString());
    }
  }
}
