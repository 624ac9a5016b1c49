#pragma once
// The validator's command-line configuration, its checks, and how it maps onto the pipeline and
// the sync agent. Kept apart from main() so that tests can check flag handling.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

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
  std::filesystem::path sealing_key_file;     // default: <data_dir>/sealing_public.pem
  // CA key files added to the shipped production keys (e.g. a test CA in simulation).
  std::vector<std::filesystem::path> ca_key_files;
  std::string backoffice = "127.0.0.1:7450";
  // Mutual TLS with the back office (docs/provisioning.md). Each file defaults to its
  // conventional name in tls_dir (default <data_dir>/tls): device.crt, device.key,
  // backoffice-ca.crt.
  std::filesystem::path tls_dir;
  std::filesystem::path tls_cert_file;
  std::filesystem::path tls_key_file;
  std::filesystem::path tls_ca_file;
  std::string tls_server_name = "faregate-backoffice";
  // Plain TCP to the back office: development only, never with real cards.
  bool insecure_dev = false;
  std::string backoffice_host;                // filled by validate()
  std::uint16_t backoffice_port = 0;          // filled by validate()
  unsigned sync_interval_s = 30;
  unsigned batch_taps = 500;
  unsigned anti_passback_s = 60;
  std::string log_level = "info";
  // Firmware rollout group (e.g. "line-4"): the back office offers this group's image over the
  // air. Empty: no group, no offers.
  std::string device_group;
  // Maintenance port for faregate-flash (0: off). Mutual TLS with TLS_DIR/maintenance.crt and
  // .key (faregate-keys issue-maintenance); only technician certificates from the CA in
  // backoffice-ca.crt (the operator CA) are accepted.
  unsigned maintenance_port = 0;
  std::string maintenance_listen = "127.0.0.1";
};

void add_validator_flags(CLI::App& cli, ValidatorConfig& config);

// Checks combinations CLI11 cannot, and fills derived fields. Errors are kInvalidArgument with a
// message meant for the technician.
Status validate(ValidatorConfig& config);

tap::TapPipelineConfig pipeline_config(const ValidatorConfig& config);
// The shipped production CA keys plus every key file given; any bad file refuses start-up.
Result<emv::oda::CaKeyTable> load_ca_keys(const std::vector<std::filesystem::path>& files);
sync::SyncOptions sync_options(const ValidatorConfig& config);
// The TLS client context from the configured files, checked against --device-id (the back office
// takes the device id from the certificate, so a mismatch could never sync). Null with
// --insecure-dev.
Result<std::shared_ptr<const tls::ClientContext>> load_tls(const ValidatorConfig& config);

// The firmware version compiled into this build.
std::string firmware_version();

}  // namespace faregate::app
