#pragma once
// The operator's commands on firmware offered over the air (DATA_DIR/firmware/, docs/
// sync_protocol.md "Firmware over the air"):
//   faregate-backoffice --data-dir D firmware offer --image FILE --group G [--json]
//   faregate-backoffice --data-dir D firmware withdraw --group G
//   faregate-backoffice --data-dir D firmware show [--json]
// Safe while the daemon runs (SQLite WAL; the next BatchAck of a validator of the group carries
// the new offer).

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "backoffice/firmware/firmware_offers.h"

namespace faregate::backoffice_app {

struct FirmwareCommands {
  CLI::App* firmware = nullptr;
  CLI::App* offer = nullptr;
  CLI::App* withdraw = nullptr;
  CLI::App* show = nullptr;
  std::string image;
  std::string group;
  bool json = false;

  bool parsed() const;
};

// Registers the subcommands on `app`.
void add_firmware_commands(CLI::App& app, FirmwareCommands& commands);

// Runs the parsed subcommand against DATA_DIR/firmware. Returns the exit code (0 done, 1 bad input
// or store error, reported on stderr).
int run_firmware_command(const FirmwareCommands& commands, const std::filesystem::path& data_dir);

// For the daemon: the offer store it serves from. Errors as FirmwareOffers::open.
Result<std::unique_ptr<firmware::FirmwareOffers>> open_firmware_offers(
    const std::filesystem::path& data_dir);

}  // namespace faregate::backoffice_app
