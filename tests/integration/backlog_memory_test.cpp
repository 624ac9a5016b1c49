// A validator that was offline for a week at a busy gate: 200,000 taps in its journal, synced in
// one session over mutual TLS to a real faregate-backoffice process. The sync agent pages the
// journal batch by batch, so the validator's memory stays bounded whatever the backlog: this
// test measures the process's peak resident set (VmHWM: journal writing, TLS, sync) and requires
// it under 64 MiB. The figure is printed.

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "backoffice/store/sqlite_tap_store.h"
#include "firmware/journal/journal.h"
#include "firmware/sync/sync_agent.h"
#include "simulator/network/backoffice_process.h"
#include "tests/firmware/journal/test_support.h"
#include "tests/support/temp_dir.h"

using faregate::testing::TempDir;

namespace {

constexpr std::uint64_t kBacklogTaps = 200'000;
constexpr std::uint64_t kMemoryLimitKiB = 64 * 1024;

// "VmHWM:  12345 kB" from /proc/self/status: the peak resident set of this process.
std::uint64_t peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      std::uint64_t kib = 0;
      fields >> kib;
      return kib;
    }
  }
  return 0;
}

}  // namespace

TEST_CASE("a validator offline for 200,000 taps syncs them all over TLS with peak memory under 64 MiB") {
  TempDir dir;
  const std::string device = "busy-gate-1";
  auto backoffice = faregate::simulator::BackofficeProcess::start(
      FAREGATE_BACKOFFICE_BIN, dir.path() / "backoffice", 0, {"--log-level", "warn"});
  REQUIRE(backoffice);
  auto tls = faregate::simulator::provision_device_tls(dir.path() / "pki", device);
  REQUIRE(tls);

  // The week of taps is written where an fsync costs nothing (tmpfs when the machine has one):
  // 200,000 durable appends on a disk would take minutes and measure the disk, not the sync.
  const std::filesystem::path shm = "/dev/shm";
  TempDir journal_dir(std::filesystem::is_directory(shm) ? shm
                                                         : std::filesystem::temp_directory_path());
  auto journal = faregate::journal::Journal::open(journal_dir.path() / "journal.db", device);
  REQUIRE(journal);
  for (std::uint64_t n = 1; n <= kBacklogTaps; ++n) {
    auto seq = (*journal)->append(faregate::journal::test::make_tap(n));
    if (!seq) FAIL("append " << n << ": " << seq.error().describe());
  }
  const auto rss_after_journal = peak_rss_kib();

  faregate::sync::SyncOptions options;
  options.port = backoffice->port();
  options.tls = *tls;
  options.io_timeout = std::chrono::seconds(60);
  faregate::sync::SyncAgent agent(**journal, options);  // default batch: 500 taps
  const auto started = std::chrono::steady_clock::now();
  auto report = agent.sync_once();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  REQUIRE(report);
  const auto peak = peak_rss_kib();

  CHECK(report->taps_sent == kBacklogTaps);
  CHECK(report->acknowledged_through == kBacklogTaps);
  CHECK((*journal)->stats()->unsynced == 0);
  REQUIRE(backoffice->stop().value() == 0);
  auto store = faregate::store::SqliteTapStore::open(dir.path() / "backoffice" / "taps.db");
  REQUIRE(store);
  CHECK((*store)->stored_through(device).value() == kBacklogTaps);
  CHECK((*store)->tap_count().value() == kBacklogTaps);

  WARN("200,000-tap backlog: synced in " << report->batches << " batches in " << seconds
                                        << " s (" << static_cast<std::uint64_t>(kBacklogTaps / seconds)
                                        << " taps/s over TLS); validator peak RSS " << peak / 1024
                                        << " MiB (" << peak << " KiB; " << rss_after_journal / 1024
                                        << " MiB before the sync), limit 64 MiB");
  CHECK(peak > 0);
  CHECK(peak < kMemoryLimitKiB);
}
