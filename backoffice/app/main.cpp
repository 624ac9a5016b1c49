// faregate-backoffice: the back-office daemon. Accepts validator sync sessions over mutual TLS
// (docs/sync_protocol.md; credentials from faregate-keys, docs/provisioning.md) and keeps every
// tap in DATA_DIR/taps.db.
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

#include "backoffice/app/fare_run_commands.h"
#include "backoffice/app/firmware_commands.h"
#include "backoffice/app/push_commands.h"
#include "backoffice/denylist/push_store.h"
#include "backoffice/ingest/ingest_server.h"
#include "backoffice/store/tap_store_factory.h"
#include "common/log.h"

namespace {

constexpr const char* kProgram = "faregate-backoffice";

constexpr const char* kFooter = R"(Examples:
  faregate-backoffice --data-dir /var/lib/faregate
      store at /var/lib/faregate/taps.db, listen on 127.0.0.1:7450, TLS credentials from
      /var/lib/faregate/tls (faregate-keys issue-backoffice --out /var/lib/faregate/tls)
  faregate-backoffice --data-dir ./bo --port 0 --insecure-dev
      plain TCP for development (validators need --insecure-dev too)
  faregate-backoffice --data-dir ./bo --listen 0.0.0.0 --port 0 --log-level debug
      any interface, an ephemeral port (read it from the "listening" line)
  faregate-backoffice --data-dir ./bo --max-connections 200 --idle-timeout-s 20
  faregate-backoffice --data-dir ./bo deny-list add 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      deny a card token: pushed to every validator on its next sync (also while running)
  faregate-backoffice --data-dir ./bo config set --anti-passback-s 90 --sync-interval-s 20
  faregate-backoffice --data-dir ./bo deny-list show --json
  faregate-backoffice --data-dir ./bo fare-run --gtfs feed/ --acquirer simulated:decline-iin=476199 --json
      price the taps, verify and charge cards, deny declined ones on validators (docs/payments.md)
  faregate-backoffice --data-dir ./bo --fare-run-interval-s 900 --gtfs feed/ --acquirer simulated
      the daemon runs the fare run itself every 15 minutes (declines and lifted debts reach
      validators without an operator)
  faregate-backoffice --data-dir ./bo payments pay-debt --token 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08

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
  std::string store;  // empty: sqlite:DATA_DIR/taps.db
  std::filesystem::path tls_dir;  // default DATA_DIR/tls
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  std::filesystem::path tls_client_ca;
  std::filesystem::path tls_crl;
  int tls_handshake_timeout_s = 10;
  bool insecure_dev = false;
};

// The TLS credentials the flags name, or null with --insecure-dev.
faregate::Result<std::shared_ptr<faregate::tls::ServerCredentials>> load_tls(
    const Flags& flags, const std::filesystem::path& data_dir) {
  if (flags.insecure_dev) {
    if (!flags.tls_dir.empty() || !flags.tls_cert.empty() || !flags.tls_key.empty() ||
        !flags.tls_client_ca.empty() || !flags.tls_crl.empty()) {
      return faregate::make_error(faregate::ErrorCode::kInvalidArgument,
                                  "--insecure-dev turns TLS off: drop it or the --tls-* options");
    }
    return std::shared_ptr<faregate::tls::ServerCredentials>();
  }
  auto files =
      faregate::tls::server_files_in(flags.tls_dir.empty() ? data_dir / "tls" : flags.tls_dir);
  if (!flags.tls_cert.empty()) files.certificate = flags.tls_cert;
  if (!flags.tls_key.empty()) files.private_key = flags.tls_key;
  if (!flags.tls_client_ca.empty()) files.client_ca = flags.tls_client_ca;
  if (!flags.tls_crl.empty()) files.revocation_list = flags.tls_crl;
  auto credentials = faregate::tls::ServerCredentials::load(files);
  if (!credentials) {
    return faregate::with_context(
        credentials.error(),
        "no usable TLS credentials (provision them with faregate-keys issue-backoffice, or run "
        "with --insecure-dev in development)");
  }
  return credentials;
}

int run(const Flags& flags, const faregate::backoffice_app::FareRunCommands& fare_runs) {
  faregate::init_logging(kProgram, flags.log_level);

  const std::filesystem::path data_dir(flags.data_dir);
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec || !std::filesystem::is_directory(data_dir, ec)) {
    spdlog::error("cannot use data directory {}: {}", data_dir.string(),
                  ec ? ec.message() : "not a directory");
    return 1;
  }
  auto credentials = load_tls(flags, data_dir);
  if (!credentials) {
    spdlog::error("{}", credentials.error().describe());
    return 1;
  }
  const std::string store_spec =
      flags.store.empty() ? "sqlite:" + (data_dir / "taps.db").string() : flags.store;
  auto store = faregate::store::open_tap_store(store_spec);
  if (!store) {
    spdlog::error("tap store {}: {}", faregate::store::redact_store_spec(store_spec),
                  store.error().describe());
    return 1;
  }
  spdlog::info("tap store {}", faregate::store::redact_store_spec(store_spec));
  // Deny list and config bundle pushed to validators (docs/sync_protocol.md, "Pushes").
  auto pushes = faregate::denylist::PushStore::open(data_dir / "pushes.db");
  if (!pushes) {
    spdlog::error("{}", pushes.error().describe());
    return 1;
  }
  // Firmware offered over the air by device group (faregate-backoffice firmware offer ...).
  auto firmware_offers = faregate::backoffice_app::open_firmware_offers(data_dir);
  if (!firmware_offers) {
    spdlog::error("{}", firmware_offers.error().describe());
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

  // Scheduled fare runs (--fare-run-interval-s): a thread of their own (the first run one
  // interval from now), stopped before ingest. Bad fare-run options stop the start here.
  std::unique_ptr<faregate::backoffice_app::FareRunSchedule> fare_run_schedule;
  if (fare_runs.fare_run_interval_s > 0) {
    auto schedule = faregate::backoffice_app::FareRunSchedule::start(fare_runs, data_dir, store_spec);
    if (!schedule) {
      spdlog::error("{}", schedule.error().describe());
      return 1;
    }
    fare_run_schedule = std::move(*schedule);
  }

  faregate::ingest::IngestOptions options;
  options.listen_address = flags.listen;
  options.port = static_cast<std::uint16_t>(flags.port);
  options.max_connections = flags.max_connections;
  options.idle_timeout = std::chrono::seconds(flags.idle_timeout_s);
  options.max_batch_taps = flags.max_batch_taps;
  options.tls = *credentials;
  options.pushes = pushes->get();
  options.firmware = firmware_offers->get();
  options.tls_handshake_timeout = std::chrono::seconds(flags.tls_handshake_timeout_s);
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
  fare_run_schedule.reset();
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
  if (options.tls) {
    std::string refused;
    for (std::size_t i = 0; i < faregate::tls::kHandshakeFailureCount; ++i) {
      if (c.tls_failures[i] == 0) continue;
      refused += (refused.empty() ? "" : ", ") +
                 std::string(faregate::tls::to_string(
                     static_cast<faregate::tls::HandshakeFailure>(i))) +
                 " " + std::to_string(c.tls_failures[i]);
    }
    spdlog::info("TLS: {} handshakes, {} handshake timeouts, refused: {}", c.tls_handshakes,
                 c.tls_handshake_timeouts, refused.empty() ? "none" : refused);
  }
  spdlog::info("pushes: {} deny lists, {} config bundles, {} failed", c.deny_list_pushes,
               c.config_pushes, c.push_errors);
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
  app.add_option("--store", flags.store,
                 "Tap store: sqlite:PATH or postgresql://USER@HOST:PORT/DB (default: "
                 "sqlite:DATA_DIR/taps.db); several back offices may share one PostgreSQL "
                 "database");
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
  app.add_option("--tls-dir", flags.tls_dir,
                 "Folder with server.crt, server.key, device-ca.crt and revoked.crl from\n"
                 "faregate-keys issue-backoffice (default: DATA_DIR/tls)");
  app.add_option("--tls-cert", flags.tls_cert, "Server certificate (default: TLS_DIR/server.crt)");
  app.add_option("--tls-key", flags.tls_key, "Its private key (default: TLS_DIR/server.key)");
  app.add_option("--tls-client-ca", flags.tls_client_ca,
                 "The only CA whose device certificates are accepted (default: TLS_DIR/device-ca.crt)");
  app.add_option("--tls-crl", flags.tls_crl,
                 "Revocation list of that CA, reloaded when the file changes (default:\n"
                 "TLS_DIR/revoked.crl)");
  app.add_option("--tls-handshake-timeout-s", flags.tls_handshake_timeout_s,
                 "Close a connection whose TLS handshake is not done within this many seconds")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  app.add_flag("--insecure-dev", flags.insecure_dev,
               "Plain TCP without TLS: anyone reaching the port can upload taps (development only)");
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  faregate::backoffice_app::PushCommands push_commands;
  faregate::backoffice_app::add_push_commands(app, push_commands);
  faregate::backoffice_app::FirmwareCommands firmware_commands;
  faregate::backoffice_app::add_firmware_commands(app, firmware_commands);
  faregate::backoffice_app::FareRunCommands fare_run_commands;
  faregate::backoffice_app::add_fare_run_commands(app, fare_run_commands);
  faregate::backoffice_app::add_fare_run_schedule_options(app, fare_run_commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a success; every other parse problem is exit code 1, as documented.
    return app.exit(e) == 0 ? 0 : 1;
  }
  if (fare_run_commands.parsed()) {
    return faregate::backoffice_app::run_fare_run_command(fare_run_commands, flags.data_dir);
  }
  if (push_commands.parsed()) {
    return faregate::backoffice_app::run_push_command(push_commands, flags.data_dir);
  }
  if (firmware_commands.parsed()) {
    return faregate::backoffice_app::run_firmware_command(firmware_commands, flags.data_dir);
  }
  return run(flags, fare_run_commands);
}
