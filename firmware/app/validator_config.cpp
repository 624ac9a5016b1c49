#include "firmware/app/validator_config.h"

#include <charconv>

#include "firmware/emv/oda/shipped_ca_keys.h"

namespace faregate::app {

std::string firmware_version() { return FAREGATE_VERSION; }

void add_validator_flags(CLI::App& cli, ValidatorConfig& c) {
  cli.add_option("--data-dir", c.data_dir, "Directory for the journal and keys (created if missing)")
      ->required();
  cli.add_option("--device-id", c.device_id, "This validator's id, unique in the network")->required();
  cli.add_option("--stop-id", c.stop_id, "Stop or station where the validator stands")->required();
  cli.add_option("--role", c.role, "entry | exit | onboard")
      ->check(CLI::IsMember({"entry", "exit", "onboard"}))
      ->capture_default_str();
  cli.add_option("--route-id", c.route_id, "Route served (onboard validators only)");
  cli.add_option("--reader", c.reader, "Reader: 'sim' (in-process, empty field) or a libnfc connstring such as pn532_uart:/dev/ttyUSB0")
      ->capture_default_str();
  cli.add_option("--card-token-key", c.card_token_key_file,
                 "File with the network's card-token key (default: DATA_DIR/card_token.key)");
  cli.add_option("--sealing-key", c.sealing_key_file,
                 "The back office's public key (PEM) card data is sealed for (default: "
                 "DATA_DIR/sealing_public.pem)");
  cli.add_option("--ca-keys", c.ca_key_files,
                 "Extra EMV CA key file(s) beside the shipped production keys (docs/oda.md)")
      ->check(CLI::ExistingFile);
  cli.add_option("--backoffice", c.backoffice, "Back office address HOST:PORT")->capture_default_str();
  cli.add_option("--tls-dir", c.tls_dir,
                 "Folder with device.crt, device.key and backoffice-ca.crt from faregate-keys\n"
                 "issue-device (default: DATA_DIR/tls)");
  cli.add_option("--tls-cert", c.tls_cert_file, "This validator's certificate (default: TLS_DIR/device.crt)");
  cli.add_option("--tls-key", c.tls_key_file, "Its private key (default: TLS_DIR/device.key)");
  cli.add_option("--tls-ca", c.tls_ca_file,
                 "The only CA whose back-office certificate is accepted (default: TLS_DIR/backoffice-ca.crt)");
  cli.add_option("--tls-server-name", c.tls_server_name,
                 "Name the back office's certificate must carry")
      ->capture_default_str();
  cli.add_flag("--insecure-dev", c.insecure_dev,
               "Plain TCP without TLS to the back office (development only; the back office must\n"
               "run with --insecure-dev too)");
  cli.add_option("--sync-interval-s", c.sync_interval_s, "Seconds between sync sessions")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  cli.add_option("--batch-taps", c.batch_taps, "Taps per TapBatch")
      ->check(CLI::Range(1u, 5000u))
      ->capture_default_str();
  cli.add_option("--anti-passback-s", c.anti_passback_s,
                 "Refuse the same card at this validator within this many seconds")
      ->check(CLI::Range(0u, 3600u))
      ->capture_default_str();
  cli.add_option("--log-level", c.log_level, "trace|debug|info|warn|error")->capture_default_str();
  cli.add_option("--device-group", c.device_group,
                 "Firmware rollout group (letters, digits, '.', '_', '-'; at most 64): the back\n"
                 "office offers this group's firmware image over the air (applied only when\n"
                 "started by faregate-boot). Default: none, no offers");
  cli.add_option("--maintenance-port", c.maintenance_port,
                 "Open the maintenance port for faregate-flash on this TCP port (default: off).\n"
                 "Mutual TLS: TLS_DIR/maintenance.crt and .key (faregate-keys issue-maintenance);\n"
                 "only technician certificates (faregate-keys issue-technician) get in")
      ->check(CLI::Range(1u, 65535u));
  cli.add_option("--maintenance-listen", c.maintenance_listen,
                 "IP address of the maintenance port")
      ->capture_default_str();
}

Status validate(ValidatorConfig& c) {
  if (c.role == "onboard" && c.route_id.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "--role onboard needs --route-id");
  }
  if (c.card_token_key_file.empty()) c.card_token_key_file = c.data_dir / "card_token.key";
  if (c.sealing_key_file.empty()) c.sealing_key_file = c.data_dir / "sealing_public.pem";
  const auto colon = c.backoffice.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == c.backoffice.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--backoffice must be HOST:PORT, found '" + c.backoffice + "'");
  }
  unsigned port = 0;
  const char* first = c.backoffice.data() + colon + 1;
  const char* last = c.backoffice.data() + c.backoffice.size();
  auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || end != last || port == 0 || port > 65535) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--backoffice port must be 1..65535, found '" + std::string(first, last) + "'");
  }
  if (c.device_group.size() > 64 ||
      c.device_group.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789._-") != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--device-group uses at most 64 letters, digits, '.', '_' and '-', found '" +
                          c.device_group + "'");
  }
  c.backoffice_host = c.backoffice.substr(0, colon);
  c.backoffice_port = static_cast<std::uint16_t>(port);
  if (c.insecure_dev) {
    if (!c.tls_dir.empty() || !c.tls_cert_file.empty() || !c.tls_key_file.empty() ||
        !c.tls_ca_file.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "--insecure-dev turns TLS off: drop it or the --tls-* options");
    }
    return {};
  }
  if (c.tls_dir.empty()) c.tls_dir = c.data_dir / "tls";
  const auto files = tls::client_files_in(c.tls_dir, c.tls_server_name);
  if (c.tls_cert_file.empty()) c.tls_cert_file = files.certificate;
  if (c.tls_key_file.empty()) c.tls_key_file = files.private_key;
  if (c.tls_ca_file.empty()) c.tls_ca_file = files.server_ca;
  return {};
}

tap::TapPipelineConfig pipeline_config(const ValidatorConfig& c) {
  tap::TapPipelineConfig p;
  p.device_id = c.device_id;
  p.stop_id = c.stop_id;
  p.role = c.role == "exit"      ? faregate::v1::VALIDATOR_ROLE_EXIT
           : c.role == "onboard" ? faregate::v1::VALIDATOR_ROLE_ONBOARD
                                 : faregate::v1::VALIDATOR_ROLE_ENTRY;
  p.route_id = c.route_id;
  p.firmware_version = firmware_version();
  p.anti_passback = std::chrono::seconds(c.anti_passback_s);
  return p;
}

Result<emv::oda::CaKeyTable> load_ca_keys(const std::vector<std::filesystem::path>& files) {
  auto table = emv::oda::shipped_ca_keys();
  if (!table) return std::unexpected(table.error());
  for (const auto& file : files) {
    auto extra = emv::oda::CaKeyTable::from_file(file);
    if (!extra) return std::unexpected(extra.error());
    if (auto merged = table->merge(*extra); !merged) {
      return with_context(merged.error(), file.string());
    }
  }
  return table;
}

sync::SyncOptions sync_options(const ValidatorConfig& c) {
  sync::SyncOptions s;
  s.host = c.backoffice_host;
  s.port = c.backoffice_port;
  s.batch_taps = c.batch_taps;
  s.interval = std::chrono::seconds(c.sync_interval_s);
  s.firmware_version = firmware_version();
  s.device_group = c.device_group;
  return s;
}

Result<std::shared_ptr<const tls::ClientContext>> load_tls(const ValidatorConfig& c) {
  if (c.insecure_dev) return std::shared_ptr<const tls::ClientContext>();
  auto context = tls::ClientContext::load(
      tls::ClientFiles{c.tls_cert_file, c.tls_key_file, c.tls_ca_file, c.tls_server_name});
  if (!context) {
    return with_context(context.error(),
                        "no usable TLS credentials (provision them with faregate-keys issue-device, "
                        "or run with --insecure-dev in development)");
  }
  if ((*context)->device_id() != c.device_id) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the device certificate " + c.tls_cert_file.string() + " is for device '" +
                          (*context)->device_id() + "', not --device-id '" + c.device_id + "'");
  }
  return context;
}

}  // namespace faregate::app
