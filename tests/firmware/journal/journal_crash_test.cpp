// Fault injection: a validator process killed (SIGKILL, no clean-up) at a random point while it
// journals taps. Every tap whose seq append() returned must survive, the file must pass SQLite's
// integrity check, and the seq sequence must continue above everything issued before.

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/message_differencer.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "firmware/journal/journal.h"
#include "tests/support/temp_dir.h"
#include "tests/firmware/journal/test_support.h"

namespace faregate::journal {
namespace {

using test::make_tap;

constexpr const char* kDevice = "val-crash-7";
constexpr std::uint64_t kSeed = 0xFA2E6A7EULL;
constexpr int kRounds = 10;
constexpr int kPipeTimeoutMs = 10'000;  // bound on waiting for the child; normally a few ms

// What the child tells the parent after each append returned: the seq and which tap it was.
struct Report {
  std::uint64_t seq;
  std::uint64_t tap_number;
};
static_assert(sizeof(Report) <= PIPE_BUF, "pipe writes up to PIPE_BUF bytes are atomic");

// Runs in the forked child. Never returns; _exit skips every destructor, like a crash.
[[noreturn]] void append_until_killed(const std::filesystem::path& path, int out_fd,
                                      std::uint64_t first_tap_number) {
  auto journal = Journal::open(path, kDevice);
  if (!journal) ::_exit(10);
  for (std::uint64_t n = first_tap_number;; ++n) {
    auto seq = (*journal)->append(make_tap(n));
    if (!seq) ::_exit(11);
    const Report report{*seq, n};
    if (::write(out_fd, &report, sizeof report) != static_cast<ssize_t>(sizeof report)) ::_exit(12);
  }
}

class Pipe {
 public:
  Pipe() {
    if (::pipe(fds_) != 0) throw std::runtime_error("pipe failed");
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int read_fd() const { return fds_[0]; }
  int write_fd() const { return fds_[1]; }
  void close_read() { close_fd(fds_[0]); }
  void close_write() { close_fd(fds_[1]); }

 private:
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fds_[2] = {-1, -1};
};

// Kills and reaps the child if the test leaves the round early.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Returns the wait status.
  int kill_and_wait() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

enum class ReadOutcome { kReport, kEof, kTimeout };

ReadOutcome read_report(int fd, Report& report) {
  auto* out = reinterpret_cast<char*>(&report);
  std::size_t got = 0;
  while (got < sizeof report) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, kPipeTimeoutMs);
    if (ready == 0) return ReadOutcome::kTimeout;
    if (ready < 0) {
      if (errno == EINTR) continue;
      return ReadOutcome::kEof;
    }
    ssize_t n = ::read(fd, out + got, sizeof report - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ReadOutcome::kEof;  // a torn report at EOF cannot happen (atomic writes)
    got += static_cast<std::size_t>(n);
  }
  return ReadOutcome::kReport;
}

TEST_CASE("journal keeps every reported tap when the process is killed mid-append") {
  faregate::testing::TempDir dir;
  const auto path = dir / "journal.db";
  std::mt19937_64 rng(kSeed);
  std::uniform_int_distribution<int> reports_before_kill(1, 20);
  std::uniform_int_distribution<int> kill_delay_us(0, 1500);
  CAPTURE(kSeed);

  std::map<std::uint64_t, std::uint64_t> journaled;  // seq -> tap number, over all rounds
  std::uint64_t highest_seq = 0;

  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    const auto wanted = static_cast<std::size_t>(reports_before_kill(rng));
    const int delay_us = kill_delay_us(rng);
    const std::uint64_t first_tap_number = static_cast<std::uint64_t>(round + 1) * 1'000'000;

    Pipe pipe;
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      pipe.close_read();
      append_until_killed(path, pipe.write_fd(), first_tap_number);
    }
    Child child(pid);
    pipe.close_write();

    std::vector<Report> reports;
    Report report{};
    while (reports.size() < wanted) {
      ReadOutcome outcome = read_report(pipe.read_fd(), report);
      REQUIRE(outcome != ReadOutcome::kTimeout);
      if (outcome == ReadOutcome::kEof) break;  // the child died on its own: checked below
      reports.push_back(report);
    }
    // Not waiting for anything: the delay only moves the kill to a different point of the
    // child's next append (BEGIN, INSERT, COMMIT, the WAL sync, ...).
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    const int status = child.kill_and_wait();
    INFO("child wait status " << status << " (exit 10: open failed, 11: append failed)");
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    // Reports written before the kill are still in the pipe; each names a committed tap.
    while (read_report(pipe.read_fd(), report) == ReadOutcome::kReport) reports.push_back(report);
    REQUIRE(reports.size() >= wanted);

    std::uint64_t previous = highest_seq;
    for (const Report& r : reports) {
      CHECK(r.seq > previous);  // strictly increasing, above every earlier round
      previous = r.seq;
      journaled[r.seq] = r.tap_number;
    }
    highest_seq = previous;

    {
      test::RawDb raw(path);
      CHECK(raw.query_text("PRAGMA integrity_check") == "ok");
    }

    auto journal = Journal::open(path, kDevice);
    REQUIRE(journal);
    auto stats = (*journal)->stats();
    REQUIRE(stats);
    // The kill may land after a commit but before the report: at most one unreported tap.
    CHECK(stats->last_seq >= highest_seq);
    CHECK(stats->last_seq <= highest_seq + 1);

    auto taps = (*journal)->unsynced(1'000'000);
    REQUIRE(taps);
    REQUIRE(taps->size() == stats->last_seq);  // nothing lost, no gaps: seqs 1..last_seq
    for (std::size_t i = 0; i < taps->size(); ++i) {
      const auto& tap = (*taps)[i];
      REQUIRE(tap.seq() == i + 1);
      auto it = journaled.find(tap.seq());
      if (it == journaled.end()) continue;  // the unreported one
      auto expected = make_tap(it->second);
      expected.set_device_id(kDevice);
      expected.set_seq(tap.seq());
      INFO("seq " << tap.seq());
      CHECK(google::protobuf::util::MessageDifferencer::Equals(tap, expected));
    }

    auto next = (*journal)->append(make_tap(first_tap_number + 999'999));
    REQUIRE(next);
    CHECK(*next == stats->last_seq + 1);
    CHECK(*next > highest_seq);
    journaled[*next] = first_tap_number + 999'999;
    highest_seq = *next;
  }
}

}  // namespace
}  // namespace faregate::journal
