// kill -9 of real faregate-backoffice processes at seeded random points of sync traffic, while
// in-process validators (each on its own thread) keep tapping and syncing over mutual TLS; each
// killed back office is restarted on the same store. Afterwards every tap the validators made is
// compared with the store (TapLedger). Runs on SQLite and on PostgreSQL (two back offices on
// one database, validators split between them).

#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "backoffice/store/tap_store_factory.h"
#include "simulator/network/backoffice_process.h"
#include "simulator/network/simulated_keys.h"
#include "tests/fault/fault_harness.h"
#include "tests/fault/tap_ledger.h"
#include "tests/integration/tcp_relay.h"
#include "tests/support/postgres_test_server.h"
#include "tests/support/temp_dir.h"

using namespace faregate;
using faregate::simulator::BackofficeProcess;
using faregate::testing::FaultValidator;
using faregate::testing::LedgerCounts;
using faregate::testing::TapLedger;
using faregate::testing::TcpRelay;
using faregate::testing::TempDir;

namespace {

// One back office behind a relay whose hook kills it once its answer count reaches kill_at.
struct Node {
  std::filesystem::path data_dir;
  std::optional<BackofficeProcess> process;
  std::unique_ptr<TcpRelay> relay;
  std::atomic<pid_t> victim{-1};
  std::atomic<std::size_t> kill_at{0};
  std::atomic<std::size_t> chunks_seen{0};
};

struct KillRun {
  std::size_t kill_points = 0;
  std::uint64_t sync_failures = 0;
  std::uint64_t tap_errors = 0;
  bool drained = true;
  std::string restart_error;  // why a restart failed, empty when none did
};

// Runs the scenario: `validators` validators split round-robin over the nodes, `kills` kill
// points spread round-robin over the nodes, each after a seeded random number (1..12) of
// further server answers on that node.
// With `database_fault`, a kill point runs it instead of killing the back office.
KillRun run_kills(const std::filesystem::path& dir, std::vector<std::unique_ptr<Node>>& nodes,
                  const std::vector<std::string>& backoffice_args, int validators, int kills,
                  std::uint64_t seed, TapLedger& ledger,
                  std::function<bool()> database_fault = {}) {
  const bool kill_processes = !database_fault;
  KillRun run;
  std::mutex mutex;
  std::condition_variable killed_cv;
  int killed_node = -1;

  auto start_node = [&](Node& node) {
    auto p = BackofficeProcess::start(FAREGATE_BACKOFFICE_BIN, node.data_dir, 0, backoffice_args);
    if (!p) {
      run.restart_error = p.error().message;
      return false;
    }
    node.process.emplace(std::move(*p));
    if (node.relay) {
      node.relay->retarget(node.process->port());
    } else {
      node.relay = std::make_unique<TcpRelay>(node.process->port());
    }
    return true;
  };
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    REQUIRE(start_node(*nodes[i]));
    Node* node = nodes[i].get();
    const int index = static_cast<int>(i);
    node->relay->on_server_chunk([node, index, kill_processes, &mutex, &killed_cv,
                                  &killed_node](std::size_t n) {
      node->chunks_seen = n;
      pid_t pid = node->victim.load();
      if (pid > 0 && n >= node->kill_at.load() && node->victim.compare_exchange_strong(pid, -1)) {
        if (kill_processes) ::kill(pid, SIGKILL);
        std::lock_guard lock(mutex);
        killed_node = index;
        killed_cv.notify_all();
      }
    });
  }

  auto keys = simulator::simulated_key_store(7).value();
  auto made = testing::make_fault_fleet(
      dir / "validators", "fault-gate", validators, keys, [&](int i) {
        testing::FaultValidatorOptions options;
        options.port = nodes[static_cast<std::size_t>(i) % nodes.size()]->relay->port();
        options.batch_taps = 10;
        options.pki_dir = dir / "pki";
        return options;
      });
  REQUIRE(made);
  testing::FaultFleet& fleet = *made;

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sync_failures{0};
  std::atomic<std::uint64_t> tap_errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < validators; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937_64 rng(seed * 31 + static_cast<std::uint64_t>(i));
      auto& v = *fleet[static_cast<std::size_t>(i)];
      while (!stop) {
        // Keep the backlog bounded while a back office is down.
        auto stats = v.validator().journal().stats();
        if (stats && stats->unsynced < 200) {
          const int taps = std::uniform_int_distribution<int>(1, 8)(rng);
          for (int t = 0; t < taps; ++t) {
            if (!v.tap(ledger)) ++tap_errors;
          }
        }
        if (!v.sync(ledger)) ++sync_failures;
      }
    });
  }

  std::mt19937_64 rng(seed);
  for (int k = 0; k < kills; ++k) {
    const std::size_t index = static_cast<std::size_t>(k) % nodes.size();
    Node& node = *nodes[index];
    {
      std::lock_guard lock(mutex);
      killed_node = -1;
    }
    node.kill_at = node.chunks_seen.load() + std::uniform_int_distribution<std::size_t>(1, 12)(rng);
    node.victim = node.process->pid();
    std::unique_lock lock(mutex);
    const bool fired = killed_cv.wait_for(lock, std::chrono::seconds(20),
                                          [&] { return killed_node == static_cast<int>(index); });
    lock.unlock();
    if (!fired) {
      node.victim = -1;
      break;
    }
    ++run.kill_points;
    if (database_fault) {
      if (!database_fault()) {
        run.restart_error = "the database server did not restart";
        break;
      }
      continue;
    }
    node.process->kill_hard();  // reaps the killed child
    node.process.reset();
    if (!start_node(node)) break;
  }
  stop = true;
  for (auto& t : threads) t.join();
  run.drained = testing::drain_fleet(fleet, ledger, 10);
  for (auto& node : nodes) {
    node->relay->stop();
    if (node->process) (void)node->process->stop();
  }
  run.sync_failures = sync_failures;
  run.tap_errors = tap_errors;
  return run;
}

void report(const std::string& scenario, const KillRun& run, const LedgerCounts& counts) {
  std::cout << format_counts(scenario, counts) << " (kill points " << run.kill_points
            << ", failed syncs " << run.sync_failures << ")" << std::endl;
}

}  // namespace

TEST_CASE("kill -9 of the back office at 50 seeded points of sync loses and duplicates no tap on SQLite") {
  TempDir dir;
  const std::uint64_t seed = 20261129;
  std::vector<std::unique_ptr<Node>> nodes;
  nodes.push_back(std::make_unique<Node>());
  nodes[0]->data_dir = dir.path() / "backoffice";
  const std::string store = "sqlite:" + (dir.path() / "backoffice" / "taps.db").string();
  std::filesystem::create_directories(nodes[0]->data_dir);
  TapLedger ledger;
  const auto run = run_kills(dir.path(), nodes, {"--store", store}, 4, 50, seed, ledger);
  CHECK(run.restart_error == "");
  CHECK(run.kill_points == 50);
  CHECK(run.tap_errors == 0);
  CHECK(run.drained);

  auto opened = store::open_tap_store(store);
  REQUIRE(opened);
  auto counts = ledger.check(**opened);
  REQUIRE(counts);
  report("backoffice kill -9, sqlite", run, *counts);
  CHECK(counts->attempted > 0);
  CHECK(counts->acknowledged == counts->attempted);
  CHECK(counts->stored == counts->attempted);
  CHECK(counts->lost == 0);
  CHECK(counts->duplicated == 0);
  CHECK(counts->unexpected == 0);
  CHECK(counts->conflicts == 0);
}

TEST_CASE("kill -9 of two back offices on one PostgreSQL database taking 20 validators at 50 seeded points loses and duplicates no tap",
          "[postgresql]") {
  TempDir dir;
  testing::PgTestSchema schema;
  const std::uint64_t seed = 4242;
  std::vector<std::unique_ptr<Node>> nodes;
  for (const char* name : {"backoffice-a", "backoffice-b"}) {
    nodes.push_back(std::make_unique<Node>());
    nodes.back()->data_dir = dir.path() / name;
    std::filesystem::create_directories(nodes.back()->data_dir);
  }
  TapLedger ledger;
  // Twenty validators at once, split over the two back-office processes.
  const auto run = run_kills(dir.path(), nodes, {"--store", schema.uri()}, 20, 50, seed, ledger);
  CHECK(run.restart_error == "");
  CHECK(run.kill_points == 50);
  CHECK(run.tap_errors == 0);
  CHECK(run.drained);

  auto opened = store::open_tap_store(schema.uri());
  REQUIRE(opened);
  auto counts = ledger.check(**opened);
  REQUIRE(counts);
  report("backoffice kill -9, postgresql, 2 back offices, 20 validators", run, *counts);
  CHECK(counts->attempted > 0);
  CHECK(counts->acknowledged == counts->attempted);
  CHECK(counts->stored == counts->attempted);
  CHECK(counts->lost == 0);
  CHECK(counts->duplicated == 0);
  CHECK(counts->unexpected == 0);
  CHECK(counts->conflicts == 0);
}

namespace {

// Restarts the fixture's PostgreSQL server at once (pg_ctl -m immediate: no checkpoint, open
// transactions die as in a crash), with the options it was started with.
bool restart_postgres_fixture() {
  const char* uri_file = std::getenv("FAREGATE_TEST_POSTGRES_URI_FILE");
  if (uri_file == nullptr) return false;
  std::ifstream in(std::filesystem::path(uri_file).parent_path() / "base");
  std::string base;
  if (!std::getline(in, base) || base.empty()) return false;
  const std::string runner = ::geteuid() == 0 ? "runuser -u ${FAREGATE_PG_USER:-nobody} -- " : "";
  const std::string command =
      "bindir=$(pg_config --bindir 2>/dev/null); [ -x \"$bindir/pg_ctl\" ] || "
      "bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1); " +
      runner + "\"$bindir/pg_ctl\" -D '" + base + "/data' -m immediate -w -t 60 restart >/dev/null";
  return std::system(command.c_str()) == 0;
}

}  // namespace

TEST_CASE("PostgreSQL server restarts in the middle of sync traffic lose and duplicate no tap",
          "[postgresql][pg_restart]") {
  TempDir dir;
  testing::PgTestSchema schema;
  std::vector<std::unique_ptr<Node>> nodes;
  nodes.push_back(std::make_unique<Node>());
  nodes[0]->data_dir = dir.path() / "backoffice";
  std::filesystem::create_directories(nodes[0]->data_dir);
  TapLedger ledger;
  const auto run = run_kills(dir.path(), nodes, {"--store", schema.uri()}, 3, 6, 99, ledger,
                             restart_postgres_fixture);
  CHECK(run.restart_error == "");
  CHECK(run.kill_points == 6);
  CHECK(run.tap_errors == 0);
  CHECK(run.drained);

  auto opened = store::open_tap_store(schema.uri());
  REQUIRE(opened);
  auto counts = ledger.check(**opened);
  REQUIRE(counts);
  report("postgresql server restart mid-sync", run, *counts);
  CHECK(counts->attempted > 0);
  CHECK(counts->acknowledged == counts->attempted);
  CHECK(counts->stored == counts->attempted);
  CHECK(counts->lost == 0);
  CHECK(counts->duplicated == 0);
  CHECK(counts->unexpected == 0);
  CHECK(counts->conflicts == 0);
}
