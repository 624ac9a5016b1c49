#pragma once
// The validator's command-line configuration, its checks, and how it maps onto the pipeline and
// the sync agent. Kept apart from main() so that tests can check flag handling.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <string>

#include "common/error.h"
#include "firmware/sync/sync_agent.h"
#include "firmware/tap/tap_pipeline.h"

namespace faregate::app {

struct ValidatorConfig {
  std::filesystem::path data_dir;
  std::string device_id;
  std::string stop_id;
  std::string role = "entry";
  std::string route_id;
  std::string reader = "sim";
  std::filesystem::path card_token_key_file;  // default: <data_dir>/card_token.key
  std::string backoffice = "127.0.0.1:7450";
  std::string backoffice_host;                // filled by validate()
  std::uint16_t backoffice_port = 0;          // filled by validate()
  unsigned sync_interval_s = 30;
  unsigned batch_taps = 500;
  unsigned anti_passback_s = 60;
  std::string log_level = "info";
};

void add_validator_flags(CLI::App& cli, ValidatorConfig& config);

// Checks combinations CLI11 cannot, and fills derived fields. Errors are kInvalidArgument with a
// message meant for the technician.
Status validate(ValidatorConfig& config);

tap::TapPipelineConfig pipeline_config(const ValidatorConfig& config);
sync::SyncOptions sync_options(const ValidatorConfig& config);

// The firmware version compiled into this build.
std::string firmware_version();

}  // namespace faregate::app
