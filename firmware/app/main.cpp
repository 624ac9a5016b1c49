// faregate-validator: the program that runs at a gate. Two threads do the work: the card thread
// polls the reader and runs each tap through the TapPipeline (journaled before the gate opens);
// the sync thread sends the journal to the back office every interval and, when started by
// faregate-boot, installs firmware offered over the air. The main thread waits for SIGINT/SIGTERM
// and stops both cleanly; after an over-the-air install the card thread, between two taps, asks
// it to stop and the validator exits with code 75 so that faregate-boot starts the new image.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/crypto.h"
#include "common/log.h"
#include "firmware/app/reader_factory.h"
#include "firmware/app/validator_config.h"
#include "firmware/journal/journal.h"
#include "firmware/maintenance/maintenance_server.h"
#include "firmware/sync/firmware_download.h"
#include "firmware/sync/sync_agent.h"
#include "firmware/tap/tap_pipeline.h"
#include "firmware/update/boot/build_key.h"
#include "firmware/update/health.h"
#include "firmware/update/quiet_restart.h"
#include "hal/linux/file_key_store.h"
#include "hal/linux/system_clock.h"
#include "hal/sim/sim_gate.h"

namespace {

using namespace faregate;

// Lets the sync thread sleep until its next round or until shutdown, whichever comes first.
class StopSignal {
 public:
  void request() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
  }
  bool requested() const {
    std::lock_guard lock(mutex_);
    return stop_;
  }
  // Returns true if stop was requested during the wait.
  bool wait_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, d, [&] { return stop_; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
};

void card_loop(tap::TapPipeline& pipeline, hal::NfcReader& reader, StopSignal& stop,
               std::atomic<bool>& reader_ok, update::QuietRestart& restart) {
  using namespace std::chrono_literals;
  while (!stop.requested()) {
    // Between taps: the only moment a restart for new firmware may happen.
    if (auto reason = restart.take_if_quiet()) {
      spdlog::info("restarting into the new firmware ({}): no tap in progress", *reason);
      ::kill(::getpid(), SIGUSR1);  // collected by the main thread's sigwait
      return;
    }
    update::QuietRestart::TapScope tap(restart);
    if (!tap.ok()) return;
    auto outcome = pipeline.poll(200ms);
    if (!outcome && outcome.error().code == ErrorCode::kCardRemoved) {
      // The rider pulled the card away too early: nothing was journaled, they tap again.
      spdlog::info("{}", outcome.error().message);
      continue;
    }
    if (!outcome) {
      // A reader fault must not take the gate down: log, back off a little, try again. A reader
      // that is gone (unplugged, or a line error the driver cannot resynchronise) is reopened.
      reader_ok = false;
      spdlog::warn("reader: {}", outcome.error().describe());
      stop.wait_for(1s);
      if (outcome.error().code == ErrorCode::kUnavailable) {
        if (auto reopened = reader.reopen(); reopened) {
          spdlog::info("reader {} reopened", reader.describe());
        } else {
          spdlog::warn("reader still unavailable: {}", reopened.error().describe());
        }
      }
      continue;
    }
    reader_ok = true;
    if (!outcome->has_value()) {
      stop.wait_for(20ms);  // empty field: poll again shortly
      continue;
    }
    // Wait until the card leaves, so one presentation is one tap.
    while (!stop.requested()) {
      auto removed = reader.wait_for_removal(100ms);
      if (!removed || *removed) break;
      stop.wait_for(50ms);
    }
  }
}

void sync_loop(sync::SyncAgent& agent, journal::Journal& journal, StopSignal& stop) {
  // Backoff jitter from its own generator: the pipeline's belongs to the card thread.
  auto jitter = crypto::Drbg::from_system_entropy("faregate-validator sync " + journal.device_id());
  if (!jitter) {
    spdlog::error("sync: no random generator ({}); sync stopped", jitter.error().describe());
    return;
  }
  agent.run([&stop](std::chrono::milliseconds delay) { return stop.wait_for(delay); }, *jitter);
  // One last attempt so that taps made just before shutdown leave with us when possible.
  if (auto last = agent.sync_once(); !last) {
    spdlog::info("final sync not done ({}); taps stay in the journal", last.error().describe());
  }
}

}  // namespace

int main(int argc, char** argv) {
  app::ValidatorConfig config;
  CLI::App cli{"faregate-validator: the validator that runs at a gate or on a vehicle.\n"
               "Reads cards, decides, journals every tap durably before the gate opens, and\n"
               "syncs the journal to the back office.\n\n"
               "Example:\n"
               "  faregate-validator --data-dir /var/lib/faregate --device-id central-entry-1 \\\n"
               "      --stop-id central --role entry --backoffice 10.0.0.5:7450\n"
               "  (mutual TLS with the credentials in DATA_DIR/tls from faregate-keys issue-device;\n"
               "   --insecure-dev syncs over plain TCP in development)\n\n"
               "Exit codes: 0 clean shutdown, 1 bad configuration or start-up failure, 75 restart\n"
               "wanted: firmware installed over the air waits for its trial boot (faregate-boot\n"
               "starts it)."};
  app::add_validator_flags(cli, config);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a success; every other parse error is a bad configuration (exit 1).
    return cli.exit(e) == 0 ? 0 : 1;
  }

  init_logging("validator", config.log_level);
  if (auto valid = app::validate(config); !valid) {
    spdlog::error("{}", valid.error().message);
    return 1;
  }

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create data directory {}: {}", config.data_dir.string(), ec.message());
    return 1;
  }
  auto keys = hal::linux_os::FileKeyStore::open(config.card_token_key_file, config.sealing_key_file);
  if (!keys) {
    spdlog::error("{}", keys.error().describe());
    return 1;
  }
  auto ca_keys = app::load_ca_keys(config.ca_key_files);
  if (!ca_keys) {
    spdlog::error("CA keys: {}", ca_keys.error().describe());
    return 1;
  }
  auto tls_context = app::load_tls(config);
  if (!tls_context) {
    spdlog::error("{}", tls_context.error().describe());
    return 1;
  }
  if (config.insecure_dev) {
    spdlog::warn("--insecure-dev: syncing over PLAIN TCP without TLS (development only)");
  }
  // Unpredictable numbers and sealing keys come from the system's entropy.
  auto drbg = crypto::Drbg::from_system_entropy("faregate-validator " + config.device_id);
  if (!drbg) {
    spdlog::error("random generator: {}", drbg.error().describe());
    return 1;
  }
  auto journal = journal::Journal::open(config.data_dir / "journal.db", config.device_id);
  if (!journal) {
    spdlog::error("opening journal: {}", journal.error().describe());
    return 1;
  }
  auto reader = app::make_reader(config.reader);
  if (!reader) {
    spdlog::error("{}", reader.error().describe());
    return 1;
  }
  // Reader and journal are open: tell faregate-boot, if it started us, that this image works (a
  // trial image is confirmed only then). Outside the launcher this does nothing.
  if (auto reported = update::report_healthy(); !reported) {
    spdlog::warn("cannot report healthy to the boot launcher: {}", reported.error().describe());
  }

  // Block the stop signals in every thread; the main thread collects them with sigwait. SIGUSR1
  // is the card thread's "restart into new firmware now".
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  hal::linux_os::SystemClock clock;
  hal::sim::SimGate gate([](const std::string& action) { spdlog::debug("gate: {}", action); });
  tap::TapPipeline pipeline(**reader, gate, clock, *keys, **journal, *ca_keys, *drbg,
                            app::pipeline_config(config));

  sync::SyncOptions sync_options = app::sync_options(config);
  std::atomic<bool> reader_ok{true};
  sync_options.reader_status = [&] { return reader_ok ? std::string("ok") : std::string("reader_fault"); };
  sync_options.now_utc_ms = [&] { return clock.utc_ms(); };
  sync_options.tls = *tls_context;

  // Firmware over the air: only under faregate-boot, which starts what gets installed, and only
  // into the data directory the launcher boots from. Images are verified with the key compiled
  // into the launcher.
  update::QuietRestart restart;
  std::optional<update::PublicKey> firmware_key;
  std::optional<sync::FirmwareDownload> firmware_download;
  if (const auto launch = update::launch_info_from_environment()) {
    sync_options.firmware_version = launch->firmware_version;
    std::error_code same_ec;
    const bool same_dir = std::filesystem::equivalent(launch->health_file.parent_path().parent_path(),
                                                      config.data_dir, same_ec);
    auto key = update::PublicKey::from_pem(update::build_public_key_pem());
    if (!key) {
      spdlog::error("firmware over the air off: the built-in key: {}", key.error().describe());
    } else if (!same_dir) {
      spdlog::warn("firmware over the air off: faregate-boot boots from another data directory "
                   "than --data-dir {}", config.data_dir.string());
    } else {
      firmware_key.emplace(std::move(*key));
      firmware_download.emplace(config.data_dir, *firmware_key);
      sync_options.firmware = &*firmware_download;
      sync_options.on_firmware_installed = [&restart](const std::string& version) {
        restart.request("firmware " + version + " installed");
      };
    }
  } else if (!config.device_group.empty()) {
    spdlog::info("not started by faregate-boot: firmware offers for group {} are not installed",
                 config.device_group);
  }
  sync::SyncAgent agent(**journal, sync_options);

  // The maintenance port for faregate-flash, only when asked for. Never plain TCP: it needs the
  // maintenance certificate and the operator CA even with --insecure-dev.
  std::optional<update::PublicKey> maintenance_key;
  std::optional<maintenance::MaintenanceServer> maintenance_port;
  if (config.maintenance_port != 0) {
    const auto tls_dir = config.tls_dir.empty() ? config.data_dir / "tls" : config.tls_dir;
    tls::ServerFiles files;
    files.certificate = tls_dir / std::string(tls::kMaintenanceCertificateFile);
    files.private_key = tls_dir / std::string(tls::kMaintenanceKeyFile);
    files.client_ca = config.tls_ca_file.empty() ? tls_dir / std::string(tls::kBackofficeCaFile)
                                                 : config.tls_ca_file;
    if (std::error_code crl_ec; std::filesystem::exists(tls_dir / "revoked.crl", crl_ec)) {
      files.revocation_list = tls_dir / "revoked.crl";
    }
    auto context = tls::ServerContext::load(files, nullptr, tls::ClientRole::kTechnician);
    auto key = update::PublicKey::from_pem(update::build_public_key_pem());
    if (!context || !key) {
      spdlog::error("maintenance port: {} (issue its certificate with faregate-keys "
                    "issue-maintenance)",
                    !context ? context.error().describe() : key.error().describe());
      return 1;
    }
    maintenance_key.emplace(std::move(*key));
    maintenance::MaintenanceServerOptions options;
    options.listen_address = config.maintenance_listen;
    options.port = static_cast<std::uint16_t>(config.maintenance_port);
    options.tls = *context;
    options.device = {config.data_dir, config.device_id, sync_options.firmware_version};
    if (update::launch_info_from_environment()) {
      options.on_installed = [&restart](const update::SlotState& state) {
        restart.request("firmware " + state.header.firmware_version + " flashed by a technician");
      };
    }
    maintenance_port.emplace(std::move(options), *maintenance_key);
    if (auto port = maintenance_port->start(); !port) {
      spdlog::error("maintenance port: {}", port.error().describe());
      return 1;
    }
  }

  auto stats = (*journal)->stats();
  spdlog::info("validator {} at {} ({}), reader {}, journal {} (last seq {}, {} unsynced), back office {}:{}",
               config.device_id, config.stop_id, config.role, (*reader)->describe(),
               (*journal)->path().string(), stats ? stats->last_seq : 0,
               stats ? stats->unsynced : 0, config.backoffice_host, config.backoffice_port);

  StopSignal stop;
  std::thread card_thread(card_loop, std::ref(pipeline), std::ref(**reader), std::ref(stop),
                          std::ref(reader_ok), std::ref(restart));
  std::thread sync_thread(sync_loop, std::ref(agent), std::ref(**journal), std::ref(stop));

  int received = 0;
  sigwait(&signals, &received);
  const bool restarting = received == SIGUSR1;
  spdlog::info("{}, stopping", restarting             ? "restart for new firmware"
                               : received == SIGINT ? "SIGINT received"
                                                    : "SIGTERM received");
  stop.request();
  card_thread.join();
  sync_thread.join();
  if (maintenance_port) maintenance_port->stop();
  (void)(*reader)->release();
  if (auto end = (*journal)->stats()) {
    spdlog::info("stopped: last seq {}, {} taps not yet acknowledged", end->last_seq, end->unsynced);
  }
  return restarting ? update::kRestartExitCode : 0;
}
