#pragma once
// The operator's commands on what the back office pushes to validators (DATA_DIR/pushes.db,
// docs/sync_protocol.md "Pushes"): `faregate-backoffice --data-dir D deny-list add|remove|show`
// and `config set|show`. Safe while the daemon runs (SQLite WAL; each change is one
// transaction, picked up by the next BatchAck).

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace faregate::backoffice_app {

struct PushCommands {
  CLI::App* deny_list = nullptr;
  CLI::App* deny_add = nullptr;
  CLI::App* deny_remove = nullptr;
  CLI::App* deny_show = nullptr;
  CLI::App* config = nullptr;
  CLI::App* config_set = nullptr;
  CLI::App* config_show = nullptr;
  std::vector<std::string> tokens;  // 64 hex digits each
  std::optional<std::uint32_t> anti_passback_s;
  std::optional<std::uint32_t> sync_interval_s;
  std::optional<std::uint32_t> sync_batch_taps;
  std::vector<std::string> extra;  // KEY=VALUE
  bool json = false;

  bool parsed() const;
};

// Registers the subcommands on `app`.
void add_push_commands(CLI::App& app, PushCommands& commands);

// Runs the parsed subcommand against DATA_DIR/pushes.db. Returns the exit code (0 done, 1 bad
// input or store error, reported on stderr).
int run_push_command(const PushCommands& commands, const std::filesystem::path& data_dir);

}  // namespace faregate::backoffice_app
