// A validator killed with SIGKILL in the middle of journaling taps, over and over: each round a
// forked child appends taps to the journal until the parent kills it at a seeded random point;
// the parent then reopens the journal as a validator and syncs it to a real faregate-backoffice
// over mutual TLS. Afterwards every tap made is compared with the store (TapLedger).

#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/message_differencer.h>

#include <climits>
#include <iostream>
#include <map>
#include <random>

#include "backoffice/store/tap_store_factory.h"
#include "firmware/journal/journal.h"
#include "simulator/network/backoffice_process.h"
#include "simulator/network/simulated_keys.h"
#include "tests/fault/fault_harness.h"
#include "tests/fault/tap_ledger.h"
#include "tests/firmware/journal/test_support.h"
#include "tests/support/temp_dir.h"

using namespace faregate;
using faregate::testing::FaultValidator;
using faregate::testing::TapLedger;
using faregate::testing::TempDir;

namespace {

constexpr const char* kDevice = "crash-gate-1";

struct Report {
  std::uint64_t seq;
  std::uint64_t tap_number;
};
static_assert(sizeof(Report) <= PIPE_BUF, "pipe writes up to PIPE_BUF bytes are atomic");

// The forked child: appends tap after tap and reports each returned seq. Never returns; _exit
// skips every destructor, as a crash would.
[[noreturn]] void append_until_killed(const std::filesystem::path& path, int out_fd,
                                      std::uint64_t first_tap_number) {
  auto journal = journal::Journal::open(path, kDevice);
  if (!journal) ::_exit(10);
  for (std::uint64_t n = first_tap_number;; ++n) {
    auto seq = (*journal)->append(journal::test::make_tap(n));
    if (!seq) ::_exit(11);
    const Report report{*seq, n};
    if (::write(out_fd, &report, sizeof report) != static_cast<ssize_t>(sizeof report)) ::_exit(12);
  }
}

// Reads one report; false at EOF or after 10 s without one.
bool read_report(int fd, Report& report) {
  auto* out = reinterpret_cast<char*>(&report);
  std::size_t got = 0;
  while (got < sizeof report) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) return false;
    const ssize_t n = ::read(fd, out + got, sizeof report - got);
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

faregate::v1::TapRecord stamped(std::uint64_t tap_number, std::uint64_t seq) {
  auto tap = journal::test::make_tap(tap_number);
  tap.set_device_id(kDevice);
  tap.set_seq(seq);
  return tap;
}

}  // namespace

TEST_CASE("a validator killed mid-append 20 times loses no tap it journaled and the back office holds each once") {
  TempDir dir;
  const auto data_dir = dir.path() / "backoffice";
  std::filesystem::create_directories(data_dir);
  const std::string store = "sqlite:" + (data_dir / "taps.db").string();
  auto backoffice =
      simulator::BackofficeProcess::start(FAREGATE_BACKOFFICE_BIN, data_dir, 0, {"--store", store});
  REQUIRE(backoffice);
  auto keys = simulator::simulated_key_store(7).value();
  testing::FaultValidatorOptions options;
  options.port = backoffice->port();
  options.batch_taps = 20;
  options.pki_dir = dir.path() / "pki";
  const auto validators_dir = dir.path() / "validators";
  const auto journal_path = validators_dir / kDevice / "journal.db";
  std::filesystem::create_directories(journal_path.parent_path());

  TapLedger ledger;
  std::mt19937_64 rng(0xC0FFEE);
  std::uint64_t next_tap_number = 1;
  std::uint64_t reported_total = 0;
  std::uint64_t unreported_committed = 0;
  constexpr int kKills = 20;
  for (int round = 0; round < kKills; ++round) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      append_until_killed(journal_path, fds[1], next_tap_number);
    }
    ::close(fds[1]);
    const int reports_before_kill = std::uniform_int_distribution<int>(1, 30)(rng);
    std::map<std::uint64_t, std::uint64_t> reported;  // seq -> tap number
    bool child_ok = true;
    for (int i = 0; i < reports_before_kill; ++i) {
      Report r{};
      if (!read_report(fds[0], r)) {
        child_ok = false;
        break;
      }
      reported[r.seq] = r.tap_number;
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    // Reports already in the pipe were appended before the kill.
    for (Report r{}; read_report(fds[0], r);) reported[r.seq] = r.tap_number;
    ::close(fds[0]);
    REQUIRE(child_ok);
    REQUIRE(WIFSIGNALED(status));

    for (const auto& [seq, n] : reported) ledger.record_made(stamped(n, seq));
    reported_total += reported.size();
    const std::uint64_t last_reported_n = reported.rbegin()->second;
    const std::uint64_t last_reported_seq = reported.rbegin()->first;

    // Reopen as the validator would after its restart; an append that committed but was not
    // reported before the kill is the next tap the child made, and counts as made.
    auto v = FaultValidator::create(validators_dir, kDevice, 0, keys, options);
    REQUIRE(v);
    auto after = (*v)->validator().journal().unsynced(100000);
    REQUIRE(after);
    std::uint64_t n_next = last_reported_n + 1;
    for (const auto& held : *after) {
      if (held.seq() <= last_reported_seq) continue;
      const auto expected = stamped(n_next, held.seq());
      if (google::protobuf::util::MessageDifferencer::Equals(expected, held)) {
        ledger.record_made(held);
        ++unreported_committed;
        ++n_next;
      }
    }
    next_tap_number = n_next;
    REQUIRE((*v)->drain(ledger, 5));
  }
  REQUIRE(backoffice->stop().value() == 0);

  // The journal itself: whole, every reported seq present, no seq issued twice.
  auto reopened = journal::Journal::open(journal_path, kDevice);
  REQUIRE(reopened);
  auto stats = (*reopened)->stats();
  REQUIRE(stats);
  CHECK(stats->unsynced == 0);

  auto opened = store::open_tap_store(store);
  REQUIRE(opened);
  auto counts = ledger.check(**opened);
  REQUIRE(counts);
  std::cout << format_counts("validator kill -9 mid-append, sqlite", *counts) << " (kill points "
            << kKills << ", reported appends " << reported_total
            << ", committed but unreported " << unreported_committed << ")" << std::endl;
  CHECK(counts->attempted == reported_total + unreported_committed);
  CHECK(counts->acknowledged == counts->attempted);
  CHECK(counts->stored == counts->attempted);
  CHECK(counts->lost == 0);
  CHECK(counts->duplicated == 0);
  CHECK(counts->unexpected == 0);
  CHECK(counts->conflicts == 0);
}
