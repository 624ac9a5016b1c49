// Fare runs split across workers by card token on PostgreSQL: the same per-card-day results as
// one worker, every card priced by exactly one shard, and a worker that dies holding a shard
// leaves it to the others.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <latch>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "backoffice/farerun/sharded_fare_run.h"
#include "backoffice/recon/store_pricing.h"
#include "backoffice/store/postgresql_tap_store.h"
#include "common/crypto.h"
#include "tests/backoffice/fares/fares_test_support.h"
#include "tests/support/postgres_test_server.h"

using namespace faregate;
using faregate::fares::testing::at;

namespace {

constexpr std::uint32_t kShards = 16;

// The policy: Testville (Europe/Paris, fares_test_support.h) with a daily cap of 5.00 EUR, so
// that a card's legs depend on each other within a day.
fares::FarePolicy capped_policy() {
  fares::testing::Files files = fares::testing::base_feed();
  files["faregate_fare_caps.txt"] =
      "cap_id,cap_period,rolling_days,max_amount,currency,max_paid_rides,rider_category_id,"
      "fare_media_id,network_id\n"
      "daily,0,,5.00,EUR,,,,\n";
  return fares::testing::load(files);
}

struct Device {
  std::string id;
  std::string stop;
  v1::ValidatorRole role;
  std::string route;
  std::vector<v1::TapRecord> taps;
};

// Seeds `cards` cards travelling over four service days (2026-03-01 .. 03-04, local time),
// some after midnight (the previous service day), some denied, some at a stop the feed does not
// know. Returns the number of tap records stored.
std::size_t seed_taps(store::TapStore& store, int cards, std::uint64_t seed) {
  std::vector<Device> devices = {
      {"gate-central", "central-gate", v1::VALIDATOR_ROLE_ENTRY, "", {}},
      {"gate-north", "north-gate", v1::VALIDATOR_ROLE_EXIT, "", {}},
      {"gate-airport-in", "airport-gate", v1::VALIDATOR_ROLE_ENTRY, "", {}},
      {"gate-airport-out", "airport-gate", v1::VALIDATOR_ROLE_EXIT, "", {}},
      {"bus-7", "bus-a", v1::VALIDATOR_ROLE_ONBOARD, "b7", {}},
      {"bus-8", "bus-b", v1::VALIDATOR_ROLE_ONBOARD, "b8", {}},
      {"bus-9", "bus-nowhere", v1::VALIDATOR_ROLE_ONBOARD, "b8", {}},
  };
  std::mt19937_64 random(seed);
  auto pick = [&random](int n) { return static_cast<int>(random() % static_cast<std::uint64_t>(n)); };
  const std::int64_t first_midnight = at("2026-03-01T00:00:00+01:00");
  constexpr std::int64_t kDay = 86'400'000;
  constexpr std::int64_t kMinute = 60'000;
  for (int c = 0; c < cards; ++c) {
    const auto digest = crypto::sha256(as_bytes("card-" + std::to_string(c)));
    const std::string token(digest.begin(), digest.end());
    for (int day = 0; day < 4; ++day) {
      if (pick(4) == 0) continue;  // not travelling that day
      // Starts between 06:00 and 20:00, or some nights at 01:00 (the previous service day).
      std::int64_t t = first_midnight + day * kDay +
                       (pick(10) == 0 ? 60 * kMinute : (6 * 60 + pick(14 * 60)) * kMinute);
      const int trips = 1 + pick(5);
      for (int trip = 0; trip < trips; ++trip) {
        auto tap = [&](std::size_t device, std::int64_t when) {
          v1::TapRecord r;
          r.set_device_id(devices[device].id);
          r.set_tap_time_utc_ms(when);
          r.set_stop_id(devices[device].stop);
          r.set_role(devices[device].role);
          r.set_route_id(devices[device].route);
          r.set_card_token(token);
          r.set_decision(pick(25) == 0 ? v1::DECISION_DENY : v1::DECISION_ACCEPT);
          devices[device].taps.push_back(std::move(r));
        };
        switch (pick(4)) {
          case 0: tap(0, t); tap(1, t + 12 * kMinute); break;           // metro zone 1
          case 1: tap(2, t); tap(1, t + 30 * kMinute); break;           // metro zones 1-2
          case 2: tap(0, t); break;                                     // entry, no exit
          default: tap(4 + static_cast<std::size_t>(pick(3)), t); break;  // bus (or orphan)
        }
        t += (20 + pick(120)) * kMinute;
      }
    }
  }
  std::size_t stored = 0;
  for (auto& device : devices) {
    std::stable_sort(device.taps.begin(), device.taps.end(),
                     [](const auto& a, const auto& b) { return a.tap_time_utc_ms() < b.tap_time_utc_ms(); });
    for (std::size_t i = 0; i < device.taps.size(); ++i) device.taps[i].set_seq(i + 1);
    for (std::size_t at_tap = 0; at_tap < device.taps.size(); at_tap += 500) {
      const std::size_t n = std::min<std::size_t>(500, device.taps.size() - at_tap);
      auto outcome = store.store_batch(
          device.id, std::span<const v1::TapRecord>(device.taps.data() + at_tap, n));
      REQUIRE(outcome);
      REQUIRE(outcome->inserted == n);
    }
    stored += device.taps.size();
  }
  return stored;
}

using Key = std::pair<std::string, std::int32_t>;
using Totals = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::uint32_t,
                          std::uint32_t, std::uint32_t, std::uint32_t>;

Totals totals_of(const farerun::FareResultRow& r) {
  return {r.fare_total, r.transfer_discount, r.cap_discount, r.total,
          r.legs,       r.orphan_taps,       r.unpriced_legs, r.maximum_fare_legs};
}

std::map<Key, Totals> by_card_day(const std::vector<farerun::FareResultRow>& rows) {
  std::map<Key, Totals> out;
  for (const auto& r : rows) {
    const bool fresh = out.emplace(Key{r.card_token, r.service_day}, totals_of(r)).second;
    CHECK(fresh);
  }
  return out;
}

// What one process pricing the whole store gets (recon::price_tap_store, as faregate-report
// does), restricted to the days of the run.
std::map<Key, Totals> reference(store::TapStore& store, const fares::FarePolicy& policy,
                                std::int32_t first_day, std::int32_t last_day) {
  const fares::EntitlementRegistry none;
  auto priced = recon::price_tap_store(store, policy, none, recon::StorePricingOptions{});
  REQUIRE(priced);
  std::map<Key, Totals> out;
  for (const auto& d : priced->pricing.days) {
    if (d.service_day < first_day || d.service_day > last_day) continue;
    const ByteView token = d.card.bytes();
    out.emplace(Key{std::string(token.begin(), token.end()), d.service_day},
                Totals{d.fare_total, d.transfer_discount, d.cap_discount, d.total, d.leg_count,
                       d.orphan_count, d.unpriced_legs, d.maximum_fare_legs});
  }
  return out;
}

std::string show(const Totals& t) {
  return "fare " + std::to_string(std::get<0>(t)) + " transfer " + std::to_string(std::get<1>(t)) +
         " cap " + std::to_string(std::get<2>(t)) + " total " + std::to_string(std::get<3>(t)) +
         " legs " + std::to_string(std::get<4>(t)) + " orphans " + std::to_string(std::get<5>(t));
}

// The card-days two result sets disagree on (at most a few), for the failure message.
std::string differences(const std::map<Key, Totals>& got, const std::map<Key, Totals>& want) {
  std::string out;
  int shown = 0;
  auto note = [&](const Key& key, const std::string& what) {
    if (shown++ < 5) out += to_hex(as_bytes(key.first)).substr(0, 8) + " day " +
                            std::to_string(key.second) + ": " + what + "\n";
  };
  for (const auto& [key, value] : got) {
    auto it = want.find(key);
    if (it == want.end()) {
      note(key, "unexpected " + show(value));
    } else if (it->second != value) {
      note(key, "got " + show(value) + ", want " + show(it->second));
    }
  }
  for (const auto& [key, value] : want) {
    if (!got.contains(key)) note(key, "missing " + show(value));
  }
  return std::to_string(shown) + " differences\n" + out;
}

std::int32_t day_number(const char* iso_noon) {
  return static_cast<std::int32_t>(at(iso_noon) / 86'400'000);
}

// Each card's rows all come from the shard shard_of() names, and the shards' counts add up to
// the rows: every card was priced by exactly one shard.
void check_each_card_in_its_shard(const std::vector<farerun::FareResultRow>& rows,
                                  const farerun::RunProgress& progress) {
  std::map<std::string, std::set<std::uint32_t>> shards_of_card;
  for (const auto& r : rows) {
    CHECK(r.shard == farerun::shard_of(as_bytes(r.card_token), kShards));
    shards_of_card[r.card_token].insert(r.shard);
  }
  for (const auto& [card, shards] : shards_of_card) CHECK(shards.size() == 1);
  CHECK(progress.shards == kShards);
  CHECK(progress.done == kShards);
  CHECK(progress.card_days == rows.size());
  CHECK(progress.cards == shards_of_card.size());
}

}  // namespace

TEST_CASE("shard_of spreads card tokens over every shard and never beyond", "[farerun]") {
  std::vector<int> counts(kShards, 0);
  for (int c = 0; c < 4000; ++c) {
    const auto digest = crypto::sha256(as_bytes("card-" + std::to_string(c)));
    const std::uint32_t shard = farerun::shard_of(ByteView(digest), kShards);
    REQUIRE(shard < kShards);
    ++counts[shard];
  }
  for (const int count : counts) CHECK(count > static_cast<int>(4000 / kShards / 2));
  CHECK(farerun::shard_of(as_bytes("alice"), 1) == 0);
}

TEST_CASE("three workers price every card-day as one worker does, each card in one shard",
          "[farerun][postgresql]") {
  testing::PgTestSchema schema;
  auto store = store::PostgresqlTapStore::open(schema.uri());
  REQUIRE(store);
  const std::size_t taps = seed_taps(**store, 400, 7);
  REQUIRE(taps > 2000);

  const fares::FarePolicy policy = capped_policy();
  const fares::EntitlementRegistry none;
  const std::int32_t first_day = day_number("2026-03-02T12:00:00+01:00");
  const std::int32_t last_day = day_number("2026-03-04T12:00:00+01:00");
  const auto expected = reference(**store, policy, first_day, last_day);
  REQUIRE(expected.size() > 500);
  // The cap binds on some card-days, so legs of a card depend on each other.
  CHECK(std::any_of(expected.begin(), expected.end(),
                    [](const auto& e) { return std::get<2>(e.second) > 0; }));

  auto plan = [&](std::string id) {
    return farerun::FareRunPlan{std::move(id), first_day, last_day, kShards, 1};
  };

  // One worker.
  auto solo = farerun::ShardedFareRun::open(schema.uri(), policy, none);
  REQUIRE(solo);
  REQUIRE((*solo)->create_run(plan("one")));
  auto report = (*solo)->work("one", "solo");
  REQUIRE(report);
  CHECK(report->shards.size() == kShards);
  auto one_rows = (*solo)->results(first_day, last_day);
  REQUIRE(one_rows);
  const auto one = by_card_day(*one_rows);
  INFO(differences(one, expected));
  CHECK(one == expected);
  auto one_progress = (*solo)->progress("one");
  REQUIRE(one_progress);
  check_each_card_in_its_shard(*one_rows, *one_progress);

  // Three workers at once, each with its own connection. Each holds its first shard until all
  // three hold one: claims must skip locked shards instead of waiting for them.
  schema.admin().exec("DELETE FROM fare_results");
  std::latch all_hold_a_shard(3);
  std::vector<farerun::WorkerReport> reports(3);
  std::vector<std::string> failures(3);
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      bool first = true;
      farerun::ShardedFareRunOptions options;
      options.before_commit = [&](std::uint32_t) -> Status {
        if (std::exchange(first, false)) all_hold_a_shard.arrive_and_wait();
        return {};
      };
      auto worker = farerun::ShardedFareRun::open(schema.uri(), policy, none, options);
      if (!worker) {
        failures[w] = worker.error().message;
        all_hold_a_shard.count_down();
        return;
      }
      if (auto s = (*worker)->create_run(plan("three")); !s) {
        failures[w] = s.error().message;
        all_hold_a_shard.count_down();
        return;
      }
      auto done = (*worker)->work("three", "worker-" + std::to_string(w));
      if (!done) {
        failures[w] = done.error().message;
        if (first) all_hold_a_shard.count_down();
        return;
      }
      reports[w] = std::move(*done);
    });
  }
  for (auto& worker : workers) worker.join();
  for (const auto& failure : failures) CHECK(failure.empty());

  std::set<std::uint32_t> shards_done;
  std::uint64_t card_days = 0;
  for (const auto& r : reports) {
    CHECK_FALSE(r.shards.empty());
    for (const auto& s : r.shards) {
      CHECK(shards_done.insert(s.shard).second);  // no shard twice
      card_days += s.card_days;
    }
  }
  CHECK(shards_done.size() == kShards);
  auto three_rows = (*solo)->results(first_day, last_day);
  REQUIRE(three_rows);
  CHECK(by_card_day(*three_rows) == one);
  CHECK(card_days == three_rows->size());
  auto three_progress = (*solo)->progress("three");
  REQUIRE(three_progress);
  check_each_card_in_its_shard(*three_rows, *three_progress);
  for (const auto& r : *three_rows) {
    CHECK(r.run_id == "three");
    CHECK(r.worker_id.starts_with("worker-"));
  }

  // Running again over the same days rewrites the same rows with the same values.
  REQUIRE((*solo)->create_run(plan("again")));
  REQUIRE((*solo)->work("again", "solo"));
  auto again_rows = (*solo)->results(first_day, last_day);
  REQUIRE(again_rows);
  CHECK(by_card_day(*again_rows) == one);
  CHECK(schema.admin().query_int("SELECT count(*) FROM fare_results") ==
        static_cast<std::int64_t>(one.size()));
}

TEST_CASE("a worker killed while holding a shard leaves it, unwritten, to the others",
          "[farerun][postgresql]") {
  testing::PgTestSchema schema;
  {
    auto store = store::PostgresqlTapStore::open(schema.uri());
    REQUIRE(store);
    seed_taps(**store, 150, 11);
  }
  const fares::FarePolicy policy = capped_policy();
  const fares::EntitlementRegistry none;
  const std::int32_t first_day = day_number("2026-03-02T12:00:00+01:00");
  const std::int32_t last_day = day_number("2026-03-03T12:00:00+01:00");
  const farerun::FareRunPlan plan{"run", first_day, last_day, kShards, 1};

  int to_parent[2];
  int to_child[2];
  REQUIRE(::pipe(to_parent) == 0);
  REQUIRE(::pipe(to_child) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The doomed worker: writes its first shard's results, tells the parent which shard it
    // holds and waits, uncommitted, to be killed. Never returns into the test framework.
    ::close(to_parent[0]);
    ::close(to_child[1]);
    farerun::ShardedFareRunOptions options;
    options.before_commit = [&](std::uint32_t shard) -> Status {
      const std::uint32_t message = shard;
      if (::write(to_parent[1], &message, sizeof message) != sizeof message) ::_exit(3);
      char never;
      while (::read(to_child[0], &never, 1) != 0) {
      }
      ::_exit(4);
    };
    auto worker = farerun::ShardedFareRun::open(schema.uri(), policy, none, options);
    if (!worker || !(*worker)->create_run(plan)) ::_exit(2);
    (void)(*worker)->work("run", "doomed");
    ::_exit(5);
  }
  ::close(to_parent[1]);
  ::close(to_child[0]);
  // Whatever fails below, the doomed worker must not outlive the test: its open transaction
  // would block dropping the schema.
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reaper{child};
  std::uint32_t held = kShards;
  const auto got = ::read(to_parent[0], &held, sizeof held);
  REQUIRE(got == static_cast<ssize_t>(sizeof held));
  REQUIRE(held < kShards);

  // While the doomed worker holds its shard, another worker does every other one.
  auto survivor = farerun::ShardedFareRun::open(schema.uri(), policy, none);
  REQUIRE(survivor);
  REQUIRE((*survivor)->create_run(plan));
  auto first = (*survivor)->work("run", "survivor");
  REQUIRE(first);
  CHECK(first->shards.size() == kShards - 1);
  for (const auto& s : first->shards) CHECK(s.shard != held);
  auto progress = (*survivor)->progress("run");
  REQUIRE(progress);
  CHECK(progress->done == kShards - 1);
  // Its results, written but not committed, are seen by no one.
  CHECK(schema.admin().query_int("SELECT count(*) FROM fare_results WHERE shard = " +
                                 std::to_string(held)) == 0);

  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  reaper.pid = -1;
  REQUIRE(WIFSIGNALED(status));
  ::close(to_parent[0]);
  ::close(to_child[1]);
  // The server rolls the dead worker's transaction back once it sees the connection closed;
  // wait (bounded) for its session to be gone rather than for a fixed time.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (schema.admin().query_int("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" +
                                  schema.name() + "' AND state LIKE 'idle in transaction%'") > 0) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  auto second = (*survivor)->work("run", "survivor");
  REQUIRE(second);
  REQUIRE(second->shards.size() == 1);
  CHECK(second->shards[0].shard == held);
  progress = (*survivor)->progress("run");
  REQUIRE(progress);
  CHECK(progress->done == kShards);

  auto rows = (*survivor)->results(first_day, last_day);
  REQUIRE(rows);
  for (const auto& r : *rows) CHECK(r.worker_id == "survivor");
  check_each_card_in_its_shard(*rows, *progress);
  auto store = store::PostgresqlTapStore::open(schema.uri());
  REQUIRE(store);
  const auto want = reference(**store, policy, first_day, last_day);
  INFO(differences(by_card_day(*rows), want));
  CHECK(by_card_day(*rows) == want);
}
