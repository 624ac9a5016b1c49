// faregate-sim: the hardware simulator's command line.
//
//   faregate-sim cards [--json]                      card kinds and the outcome each should get
//   faregate-sim tap --card KIND [--json]            one tap through an in-process validator
//   faregate-sim run [--scenario FILE] [...]         a rider day on a simulated network
//   faregate-sim demo                                `run` with the built-in demo scenario
//   faregate-sim pn532 [--card KIND]                 a virtual PN532 on a pty for libnfc
//   faregate-sim provision --data-dir DIR            a validator data dir with the simulated keys
//
// Exit codes: 0 success (for run/demo: every tap accounted for), 1 the run found a problem or
// failed, 2 bad command line.

#include <CLI/CLI.hpp>
#include <iostream>

#include <spdlog/spdlog.h>

#include "common/log.h"
#include "simulator/app/commands.h"
#include "simulator/app/provision_command.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/pn532/pn532_command.h"

int main(int argc, char** argv) {
  using namespace faregate::simulator;
  CLI::App cli{"faregate-sim: virtual cards, in-process validators and simulated rider days.\n\n"
               "Examples:\n"
               "  faregate-sim cards --json\n"
               "  faregate-sim tap --card visa --json\n"
               "  faregate-sim run --scenario simulator/scenarios/demo.json\n"
               "  faregate-sim demo\n"};
  cli.require_subcommand(1);
  std::string log_level = "warn";
  cli.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();

  CardsOptions cards_options;
  auto* cards = cli.add_subcommand("cards", "List the virtual card kinds and their expected outcome");
  cards->add_flag("--json", cards_options.json, "Print a JSON array");

  ProvisionOptions provision_options;
  auto* provision = cli.add_subcommand(
      "provision", "Write a simulated network's keys into a validator's data directory");
  provision->add_option("--data-dir", provision_options.data_dir, "The validator's data directory")
      ->required();
  provision->add_option("--seed", provision_options.seed, "The simulated network's seed")
      ->capture_default_str();
  provision->add_option("--backoffice-key", provision_options.backoffice_key_file,
                        "Also write the back office's sealing private key (PEM) to this file");

  TapOptions tap_options;
  auto* tap = cli.add_subcommand("tap", "Tap one virtual card on an in-process validator");
  auto* card_opt = tap->add_option("--card", tap_options.card_kind, "Card kind (see 'cards')");
  auto* transcript_opt =
      tap->add_option("--transcript", tap_options.transcript_file,
                      "Replay a recorded card transcript (JSON) instead of a catalog card")
          ->check(CLI::ExistingFile);
  card_opt->excludes(transcript_opt);
  tap->add_option("--record", tap_options.record_file,
                  "Save this tap's command/response exchanges as a transcript file");
  tap->add_option("--seed", tap_options.seed, "Seed for the card's PAN and the network key")
      ->capture_default_str();
  tap->add_option("--bit-rate", tap_options.bit_rate_kbps,
                  "ISO 14443 bit rate for the radio timing model (kbit/s)")
      ->check(CLI::IsMember({106, 212, 424, 848}))
      ->capture_default_str();
  tap->add_flag("--json", tap_options.json, "Print the decision record as one JSON object");

  RunOptionsCli run_options;
  auto* run = cli.add_subcommand("run", "Play a scenario's rider day and check every tap arrived");
  run->add_option("--scenario", run_options.scenario_file,
                  "Scenario JSON file (docs/scenario_format.md); default: the demo scenario");
  run->add_option("--backoffice", run_options.backoffice,
                  "Use a running back office at HOST:PORT instead of starting one");
  run->add_option("--work-dir", run_options.work_dir,
                  "Directory for journals and the back-office data (default: a fresh temp dir)");
  run->add_flag("--json", run_options.json, "Print the report as one JSON object");
  run->add_flag("--riders", run_options.rider_lines,
                "With --json: add every rider's taps made/journaled/stored/gate (rider_taps)");
  run->add_flag("--processes", run_options.processes,
                "Run each validator as a faregate-validator process reading cards through libnfc "
                "from its own virtual PN532");
  run->add_option("--validator-bin", run_options.validator_binary,
                  "The faregate-validator program for --processes (default: beside faregate-sim "
                  "or on PATH)");
  run->add_option("--acceleration", run_options.acceleration,
                  "Simulated seconds per real second, overriding the scenario's clock.acceleration "
                  "(0: as fast as possible)")
      ->check(CLI::Range(0.0, 1e6));
  run->add_option("--threads", run_options.threads,
                  "Threads playing in-process validators (default: one per core, at most 4)")
      ->check(CLI::Range(1u, 64u));
  run->footer(
      "Exit codes: 0 every rider's taps accounted for, 1 a problem (the report says which), 2 bad\n"
      "command line or scenario. Examples:\n"
      "  faregate-sim run --scenario simulator/scenarios/rush_hour.json\n"
      "  faregate-sim run --scenario simulator/scenarios/demo.json --processes --acceleration 0\n"
      "  faregate-sim run --json --riders > report.json");

  std::string pn532_card;
  auto* pn532 = cli.add_subcommand(
      "pn532", "Serve a virtual PN532 reader on a pseudo-terminal for libnfc (nfc-list, the validator)");
  pn532->add_option("--card", pn532_card, "Card placed in the field at start (default: none)");
  pn532->footer(
      "Prints the libnfc connstring (pn532_uart:/dev/pts/N) on its first line, then reads\n"
      "commands on stdin: 'place KIND', 'remove', 'quit'. Example:\n"
      "  LIBNFC_DEVICE=$(faregate-sim pn532 --card visa | head -1) nfc-list -v");

  auto* demo = cli.add_subcommand("demo", "Run the built-in demo network end to end");
  demo->add_option("--work-dir", run_options.work_dir, "Directory for journals and back-office data");
  demo->add_flag("--json", run_options.json, "Print the report as one JSON object");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : 2;
  }
  if (*pn532) {
    // Before anything starts a thread (logging included): the PN532 server takes its signals
    // through a signalfd.
    return run_pn532_command(
        [](std::string_view kind) -> std::shared_ptr<faregate::hal::sim::ContactlessCard> {
          auto card = make_card(kind, 1);
          return card ? *card : nullptr;
        },
        pn532_card);
  }
  faregate::init_logging("sim", log_level);

  if (*cards) return run_cards(cards_options);
  if (*tap) {
    if (tap_options.card_kind.empty() && tap_options.transcript_file.empty()) {
      std::cerr << "faregate-sim tap: give --card KIND or --transcript FILE\n";
      return 2;
    }
    return run_tap(tap_options);
  }
  if (*provision) return run_provision(provision_options);
  if (*run) return run_scenario(run_options);
  if (*demo) {
    run_options.scenario_file.clear();
    return run_scenario(run_options);
  }
  return 2;
}
