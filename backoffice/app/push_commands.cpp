#include "backoffice/app/push_commands.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "backoffice/denylist/push_store.h"
#include "common/bytes.h"

namespace faregate::backoffice_app {

bool PushCommands::parsed() const { return deny_list->parsed() || config->parsed(); }

void add_push_commands(CLI::App& app, PushCommands& c) {
  c.deny_list = app.add_subcommand("deny-list", "change or show the deny list pushed to validators");
  c.deny_list->require_subcommand(1);
  c.deny_add = c.deny_list->add_subcommand("add", "deny card tokens (one new version)");
  c.deny_add->add_option("tokens", c.tokens, "card tokens, 64 hex digits each")->required();
  c.deny_remove = c.deny_list->add_subcommand("remove", "lift card tokens (one new version)");
  c.deny_remove->add_option("tokens", c.tokens, "card tokens, 64 hex digits each")->required();
  c.deny_show = c.deny_list->add_subcommand("show", "print the version and the tokens");
  c.deny_show->add_flag("--json", c.json, "one JSON object");

  c.config = app.add_subcommand("config", "change or show the config bundle pushed to validators");
  c.config->require_subcommand(1);
  c.config_set = c.config->add_subcommand(
      "set", "store a new config version: the current one with the given settings changed");
  c.config_set->add_option("--anti-passback-s", c.anti_passback_s,
                           "refuse the same card at a validator within this many seconds")
      ->check(CLI::Range(0u, 3600u));
  c.config_set->add_option("--sync-interval-s", c.sync_interval_s, "seconds between sync sessions")
      ->check(CLI::Range(1u, 86400u));
  c.config_set->add_option("--sync-batch-taps", c.sync_batch_taps, "taps per TapBatch")
      ->check(CLI::Range(1u, 5000u));
  c.config_set->add_option("--extra", c.extra, "KEY=VALUE settings (forward-compatible)");
  c.config_show = c.config->add_subcommand("show", "print the current config bundle");
  c.config_show->add_flag("--json", c.json, "one JSON object");
}

namespace {

int fail(const std::string& message) {
  std::cerr << "faregate-backoffice: " << message << "\n";
  return 1;
}

}  // namespace

int run_push_command(const PushCommands& c, const std::filesystem::path& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto store = denylist::PushStore::open(data_dir / "pushes.db");
  if (!store) return fail(store.error().describe());

  if (c.deny_add->parsed() || c.deny_remove->parsed()) {
    std::vector<Bytes> tokens;
    for (const auto& text : c.tokens) {
      auto token = from_hex(text);
      if (!token || token->size() != denylist::kCardTokenBytes) {
        return fail("'" + text + "' is not a card token (64 hex digits)");
      }
      tokens.push_back(std::move(*token));
    }
    auto version = c.deny_add->parsed() ? (*store)->change_deny_list(tokens, {})
                                        : (*store)->change_deny_list({}, tokens);
    if (!version) return fail(version.error().describe());
    std::cout << "deny list at version " << *version << "\n";
    return 0;
  }
  if (c.deny_show->parsed()) {
    auto version = (*store)->deny_list_version();
    auto base = (*store)->delta_base();
    auto tokens = (*store)->deny_list();
    if (!version || !base || !tokens) return fail("cannot read the deny list");
    if (c.json) {
      nlohmann::json out{{"version", *version}, {"delta_base", *base}, {"tokens", nlohmann::json::array()}};
      for (const auto& t : *tokens) out["tokens"].push_back(to_hex(t));
      std::cout << out.dump() << "\n";
    } else {
      std::cout << "deny list version " << *version << " (deltas from version " << *base << "), "
                << tokens->size() << " tokens\n";
      for (const auto& t : *tokens) std::cout << to_hex(t) << "\n";
    }
    return 0;
  }
  if (c.config_set->parsed()) {
    auto bundle = (*store)->config();
    if (!bundle) return fail(bundle.error().describe());
    if (c.anti_passback_s) bundle->set_anti_passback_seconds(*c.anti_passback_s);
    if (c.sync_interval_s) bundle->set_sync_interval_seconds(*c.sync_interval_s);
    if (c.sync_batch_taps) bundle->set_sync_batch_taps(*c.sync_batch_taps);
    for (const auto& pair : c.extra) {
      const auto equals = pair.find('=');
      if (equals == std::string::npos || equals == 0) {
        return fail("--extra takes KEY=VALUE, found '" + pair + "'");
      }
      (*bundle->mutable_extra())[pair.substr(0, equals)] = pair.substr(equals + 1);
    }
    auto version = (*store)->set_config(*bundle);
    if (!version) return fail(version.error().describe());
    std::cout << "config at version " << *version << "\n";
    return 0;
  }
  auto bundle = (*store)->config();
  if (!bundle) return fail(bundle.error().describe());
  nlohmann::json out{{"version", bundle->version()},
                     {"anti_passback_seconds", bundle->anti_passback_seconds()},
                     {"sync_interval_seconds", bundle->sync_interval_seconds()},
                     {"sync_batch_taps", bundle->sync_batch_taps()},
                     {"extra", nlohmann::json::object()}};
  for (const auto& [key, value] : bundle->extra()) out["extra"][key] = value;
  if (c.json) {
    std::cout << out.dump() << "\n";
  } else {
    std::cout << out.dump(2) << "\n";
  }
  return 0;
}

}  // namespace faregate::backoffice_app
