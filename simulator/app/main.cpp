// faregate-sim: the hardware simulator's command line.
//
//   faregate-sim cards [--json]                      card kinds and the outcome each should get
//   faregate-sim tap --card KIND [--json]            one tap through an in-process validator
//   faregate-sim run [--scenario FILE] [...]         a rider day on a simulated network
//   faregate-sim demo                                `run` with the built-in demo scenario
//   faregate-sim pn532 [--card KIND]                 a virtual PN532 on a pty for libnfc
//
// Exit codes: 0 success (for run/demo: every tap accounted for), 1 the run found a problem or
// failed, 2 bad command line.

#include <CLI/CLI.hpp>
#include <iostream>

#include <spdlog/spdlog.h>

#include "common/log.h"
#include "simulator/app/commands.h"
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

  TapOptions tap_options;
  auto* tap = cli.add_subcommand("tap", "Tap one virtual card on an in-process validator");
  tap->add_option("--card", tap_options.card_kind, "Card kind (see 'cards')")->required();
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
  if (*tap) return run_tap(tap_options);
  if (*run) return run_scenario(run_options);
  if (*demo) {
    run_options.scenario_file.clear();
    return run_scenario(run_options);
  }
  return 2;
}
