// faregate-boot: the boot launcher of a validator. Starts the firmware image the boot state
// names, verified with the public key compiled into this program, runs new images in trial mode
// and rolls back those that do not report healthy. See docs/firmware_image.md.

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>

#include "common/log.h"
#include "firmware/update/boot/build_key.h"
#include "firmware/update/boot/launcher.h"

int main(int argc, char** argv) {
  using namespace faregate;
  update::LauncherOptions options;
  unsigned health_timeout_ms = 120'000;
  unsigned restart_delay_ms = 2'000;
  unsigned stop_timeout_ms = 10'000;
  std::string log_level = "info";
  bool show_key = false;

  CLI::App cli{
      "faregate-boot: starts the validator from the firmware slots of a data directory.\n"
      "Only images signed by the key compiled into this program, intact, and not older than the\n"
      "device's security counter are started. A newly installed image runs in trial mode until it\n"
      "reports healthy; after --max-trial-boots failed trials the previous image comes back.\n"
      "Arguments after -- go to the validator.\n\n"
      "Examples:\n"
      "  faregate-boot --data-dir /var/lib/faregate -- --data-dir /var/lib/faregate \\\n"
      "      --device-id central-entry-1 --stop-id central --backoffice 10.0.0.5:7450\n"
      "  faregate-boot --show-key\n\n"
      "Exit codes: 0 validator shut down cleanly (or stopped by SIGTERM/SIGINT), 1 bad arguments,\n"
      "2 no image may start, 3 I/O error; with --once, the validator's own exit status."};
  cli.add_option("--data-dir", options.data_dir, "validator data directory holding firmware/");
  cli.add_option("--max-trial-boots", options.policy.max_trial_boots,
                 "trial boots before a new image is rolled back")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cli.add_option("--max-failed-boots", options.policy.max_failed_boots,
                 "boots in a row without a health report before the previous image comes back")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cli.add_option("--health-timeout-ms", health_timeout_ms,
                 "time a trial image has to report healthy")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3'600'000u));
  cli.add_option("--restart-delay-ms", restart_delay_ms,
                 "pause before starting again after a failed boot")
      ->capture_default_str()
      ->check(CLI::Range(0u, 600'000u));
  cli.add_option("--stop-timeout-ms", stop_timeout_ms,
                 "time between SIGTERM and SIGKILL when stopping the validator")
      ->capture_default_str()
      ->check(CLI::Range(1u, 600'000u));
  cli.add_flag("--once", options.once, "start one boot only and exit with the validator's status");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  cli.add_flag("--show-key", show_key, "print the trusted public key and its key id, then exit");
  cli.add_option("validator-args", options.validator_args,
                 "arguments for the validator (after --)");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 1;
  }

  auto trusted = update::PublicKey::from_pem(update::build_public_key_pem());
  if (!trusted) {
    std::cerr << "faregate-boot: the compiled-in public key is unusable: "
              << trusted.error().describe() << "\n";
    return 1;
  }
  if (show_key) {
    std::cout << trusted->pem() << "key id: " << faregate::to_hex(trusted->key_id()) << "\n"
              << (update::build_key_is_development()
                      ? "DEVELOPMENT key: not for validators in service\n"
                      : "");
    return 0;
  }
  if (options.data_dir.empty()) {
    std::cerr << "faregate-boot: --data-dir is required (see --help)\n";
    return 1;
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(options.data_dir, ec)) {
    std::cerr << "faregate-boot: data directory " << options.data_dir.string()
              << " does not exist\n";
    return 1;
  }
  options.health_timeout = std::chrono::milliseconds(health_timeout_ms);
  options.restart_delay = std::chrono::milliseconds(restart_delay_ms);
  options.stop_timeout = std::chrono::milliseconds(stop_timeout_ms);

  init_logging("boot", log_level);
  spdlog::info("trusting signing key {}{}", update::short_key_id(trusted->key_id()),
               update::build_key_is_development()
                   ? " (DEVELOPMENT key: not for validators in service)"
                   : "");
  update::Launcher launcher(std::move(options), *trusted);
  return launcher.run();
}
