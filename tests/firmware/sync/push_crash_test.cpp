// Power loss during a push, simulated with SIGKILL: a validator process (sync_test_child) syncs
// with an in-process back office that pushes a large deny list, and is killed at delays spread
// over the time a whole session takes after the push left the server (measured in a first round
// that is not killed). Each time the journal is reopened and must hold either the previous list
// or the new one, whole, with the matching version: never a mix.
//
// The delays only choose kill points (nothing waits for a condition by sleeping); the outcomes
// are counted, and the test fails on any journal that is neither old nor new.

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "firmware/journal/journal.h"
#include "tests/firmware/sync/backoffice_harness.h"

using faregate::Bytes;
using faregate::journal::Journal;
using faregate::testing::BackofficeHarness;
using faregate::testing::TempDir;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kListTokens = 60'000;

// Token i of the list published in `round`: distinct across rounds.
Bytes token(std::uint32_t round, std::uint32_t i) {
  Bytes t(32, 0);
  for (int b = 0; b < 4; ++b) {
    t[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(round >> (8 * b));
    t[static_cast<std::size_t>(4 + b)] = static_cast<std::uint8_t>(i >> (8 * b));
  }
  t[31] = 0xA5;
  return t;
}

std::vector<Bytes> list_of(std::uint32_t round) {
  std::vector<Bytes> tokens;
  tokens.reserve(kListTokens);
  for (std::uint32_t i = 0; i < kListTokens; ++i) tokens.push_back(token(round, i));
  return tokens;
}

// Rows in the journal's deny_list table, read behind the Journal's back.
std::int64_t deny_rows(const std::filesystem::path& journal_path) {
  sqlite3* db = nullptr;
  std::int64_t rows = -1;
  if (sqlite3_open_v2(journal_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM deny_list", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      rows = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return rows;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

}  // namespace

TEST_CASE("a validator killed while applying a pushed deny list reopens with the old list or the new one, whole") {
  faregate::denylist::PushStoreOptions push_options;
  push_options.max_history_versions = 1;
  BackofficeHarness bo(1, {}, push_options);
  TempDir dir;
  const auto journal_path = dir.path() / "journal.db";
  const std::string device = "gate-crash";
  {
    auto created = Journal::open(journal_path, device);
    REQUIRE(created);
  }
  const auto tls_dir = dir.path() / "tls";
  std::filesystem::create_directories(tls_dir);
  const auto files = faregate::tls::client_files_in(tls_dir);
  const auto issued = bo.pki().issue_device(device);
  write_file(files.certificate, issued.certificate_pem);
  write_file(files.private_key, issued.private_key_pem);
  write_file(files.server_ca, bo.pki().ca_pem());

  // round r publishes list r as version r (each round replaces the whole list).
  std::vector<Bytes> previous;
  int old_kept = 0;
  int new_whole = 0;
  constexpr std::uint32_t kRounds = 12;  // one measuring round, then kills at 0/10 .. 10/10
  std::chrono::microseconds session_after_push{0};
  for (std::uint32_t round = 1; round <= kRounds; ++round) {
    const bool measuring = round == 1;
    const auto delay = measuring ? std::chrono::microseconds(20s)
                                 : session_after_push * static_cast<int>(round - 2) / 10;
    auto current = list_of(round);
    auto version = bo.pushes().change_deny_list(current, previous);
    REQUIRE(version);
    REQUIRE(*version == round);
    previous = current;
    const auto pushes_before = bo.server().counters().deny_list_pushes;

    const std::string port = std::to_string(bo.port());
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::execl(FAREGATE_SYNC_CHILD, FAREGATE_SYNC_CHILD, journal_path.c_str(), device.c_str(),
              port.c_str(), tls_dir.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Wait (bounded) until the push is on its way, then let the child run `delay` before the kill.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    bool exited = false;
    int status = 0;
    while (bo.server().counters().deny_list_pushes == pushes_before &&
           std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(child, &status, WNOHANG) == child) {
        exited = true;
        break;
      }
      std::this_thread::yield();
    }
    REQUIRE_FALSE(exited);  // the child must not fail before the push
    // Let the child run `delay` (or to its end), then kill it: this chooses the kill point.
    const auto pushed_at = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - pushed_at < delay) {
      if (::waitpid(child, &status, WNOHANG) == child) {
        exited = true;
        break;
      }
      std::this_thread::yield();
    }
    if (measuring) {
      REQUIRE(exited);
      REQUIRE(WIFEXITED(status));
      REQUIRE(WEXITSTATUS(status) == 0);
      session_after_push = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - pushed_at);
    }
    if (!exited) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
    }

    auto journal = Journal::open(journal_path, device);
    REQUIRE(journal);
    const auto held = (*journal)->deny_list_version();
    REQUIRE(held);
    INFO("round " << round << ", killed " << delay.count() << " us after the push, version "
                  << *held);
    const auto rows = deny_rows(journal_path);
    if (*held == round) {
      ++new_whole;
      CHECK(rows == static_cast<std::int64_t>(kListTokens));
      CHECK((*journal)->is_denied(token(round, 0)).value());
      CHECK((*journal)->is_denied(token(round, kListTokens - 1)).value());
      if (round > 1) CHECK_FALSE((*journal)->is_denied(token(round - 1, 0)).value());
    } else {
      // Killed before the apply committed: the list it held before, untouched.
      ++old_kept;
      REQUIRE(*held < round);
      CHECK(rows == (*held == 0 ? 0 : static_cast<std::int64_t>(kListTokens)));
      CHECK_FALSE((*journal)->is_denied(token(round, 0)).value());
      CHECK_FALSE((*journal)->is_denied(token(round, kListTokens - 1)).value());
      if (*held > 0) CHECK((*journal)->is_denied(token(static_cast<std::uint32_t>(*held), 7)).value());
    }
  }
  WARN("kill during a " << kListTokens << "-token push (" << session_after_push.count() / 1000
                        << " ms from push to end of session): " << old_kept
                        << " times the old list was kept, " << new_whole
                        << " times the new one was whole");
  CHECK(old_kept + new_whole == static_cast<int>(kRounds));
}
