// faregate-backoffice: the back-office daemon. Accepts validator sync sessions
// (docs/sync_protocol.md) and keeps every tap in DATA_DIR/taps.db.
//
// Once bound it prints exactly one line, "listening ADDR:PORT", to stdout, so that a parent
// process (the simulator, tests) can learn an ephemeral port. Everything else goes to stderr.
//
// Exit codes: 0 after a clean shutdown on SIGINT/SIGTERM (or --help); 1 on bad flags, an unusable
// data directory or an address it cannot listen on.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <spdlog/spdlog.h>
#include <string>

#include "backoffice/ingest/ingest_server.h"
#include "backoffice/store/sqlite_tap_store.h"
#include "common/log.h"

namespace {

constexpr const char* kProgram = "faregate-backoffice";

constexpr const char* kFooter = R"(Examples:
  faregate-backoffice --data-dir /var/lib/faregate
      store at /var/lib/faregate/taps.db, listen on 127.0.0.1:7450
  faregate-backoffice --data-dir ./bo --listen 0.0.0.0 --port 0 --log-level debug
      any interface, an ephemeral port (read it from the "listening" line)
  faregate-backoffice --data-dir ./bo --max-connections 200 --idle-timeout-s 20

Output: one line "listening ADDR:PORT" on stdout once bound; logs on stderr.
Exit codes: 0 clean shutdown (SIGINT/SIGTERM) or --help; 1 bad flags, unusable data
directory, or cannot listen.)";

struct Flags {
  std::string data_dir;
  std::string listen = "127.0.0.1";
  int port = 7450;
  std::size_t max_connections = 1024;
  int idle_timeout_s = 60;
  std::uint32_t max_batch_taps = 5000;
  std::string log_level = "info";
};

int run(const Flags& flags) {
  faregate::init_logging(kProgram, flags.log_level);

  const std::filesystem::path data_dir(flags.data_dir);
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec || !std::filesystem::is_directory(data_dir, ec)) {
    spdlog::error("cannot use data directory {}: {}", data_dir.string(),
                  ec ? ec.message() : "not a directory");
    return 1;
  }
  auto store = faregate::store::SqliteTapStore::open(data_dir / "taps.db");
  if (!store) {
    spdlog::error("{}", store.error().describe());
    return 1;
  }

  // Installed before the server starts, so that a signal arriving at any moment after the
  // "listening" line takes the clean path.
  boost::asio::io_context signal_io;
  boost::asio::signal_set signals(signal_io, SIGINT, SIGTERM);
  int received_signal = 0;
  signals.async_wait([&](const boost::system::error_code& wait_ec, int signal_number) {
    if (!wait_ec) received_signal = signal_number;
  });

  faregate::ingest::IngestOptions options;
  options.listen_address = flags.listen;
  options.port = static_cast<std::uint16_t>(flags.port);
  options.max_connections = flags.max_connections;
  options.idle_timeout = std::chrono::seconds(flags.idle_timeout_s);
  options.max_batch_taps = flags.max_batch_taps;
  faregate::ingest::IngestServer server(**store, options);
  auto port = server.start();
  if (!port) {
    spdlog::error("{}", port.error().describe());
    return 1;
  }
  // The parent may stop reading our stdout after this line; a later write must not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  std::cout << "listening " << flags.listen << ":" << *port << std::endl;

  signal_io.run();
  spdlog::info("signal {} received: stopping", received_signal);
  server.stop();

  const auto c = server.counters();
  auto held = (*store)->tap_count();
  spdlog::info("totals: {} connections ({} refused), {} hellos, {} batches, {} taps inserted, {} "
               "duplicates, {} conflicts, {} health reports, {} idle and {} handshake timeouts, "
               "{} protocol violations, {} store errors; store holds {} taps",
               c.connections_accepted, c.connections_refused, c.hellos, c.batches,
               c.taps_inserted, c.taps_duplicate, c.taps_conflicting, c.health_reports,
               c.idle_timeouts, c.handshake_timeouts, c.total_violations(), c.store_errors,
               held ? std::to_string(*held) : "?");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Faregate back office: receives validator taps (sync protocol v1) and stores them.",
               kProgram};
  app.footer(kFooter);
  Flags flags;
  app.add_option("--data-dir", flags.data_dir, "Directory for taps.db (created if missing)")
      ->required();
  app.add_option("--listen", flags.listen, "IP address to listen on")->capture_default_str();
  app.add_option("--port", flags.port, "TCP port; 0 picks a free one")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--max-connections", flags.max_connections,
                 "Connections beyond this are refused at once")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--idle-timeout-s", flags.idle_timeout_s,
                 "Close a connection that sends nothing for this many seconds (or has not\n"
                 "completed its Hello by then)")
      ->check(CLI::Range(1, 86'400))
      ->capture_default_str();
  app.add_option("--max-batch-taps", flags.max_batch_taps,
                 "Largest TapBatch accepted (announced in HelloAck)")
      ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a success; every other parse problem is exit code 1, as documented.
    return app.exit(e) == 0 ? 0 : 1;
  }
  return run(flags);
}
