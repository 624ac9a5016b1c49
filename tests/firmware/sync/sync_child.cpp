// A validator's sync thread as a separate process, for tests that kill it with SIGKILL at chosen
// moments: opens the journal, runs one sync session over mutual TLS, exits 0 on success.
//
//   sync_test_child JOURNAL DEVICE_ID PORT TLS_DIR

#include <cstdio>
#include <cstdlib>
#include <string>

#include <spdlog/spdlog.h>

#include "firmware/journal/journal.h"
#include "firmware/sync/sync_agent.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: sync_test_child JOURNAL DEVICE_ID PORT TLS_DIR\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  auto journal = faregate::journal::Journal::open(argv[1], argv[2]);
  if (!journal) {
    std::fprintf(stderr, "%s\n", journal.error().describe().c_str());
    return 1;
  }
  auto context = faregate::tls::ClientContext::load(faregate::tls::client_files_in(argv[4]));
  if (!context) {
    std::fprintf(stderr, "%s\n", context.error().describe().c_str());
    return 1;
  }
  faregate::sync::SyncOptions options;
  options.port = static_cast<std::uint16_t>(std::strtoul(argv[3], nullptr, 10));
  options.tls = *context;
  faregate::sync::SyncAgent agent(**journal, options);
  auto report = agent.sync_once();
  if (!report) {
    std::fprintf(stderr, "%s\n", report.error().describe().c_str());
    return 1;
  }
  return 0;
}
