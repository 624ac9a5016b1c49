// faregate-keys: the operator's provisioning tool. Creates the operator CA, issues the back
// office's and each validator's TLS certificate, revokes device certificates, and creates the
// card-token key and the sealing key pair. The order an operator runs it in is in
// docs/provisioning.md.

#include <CLI/CLI.hpp>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/sealed_box.h"
#include "common/tls/mbedtls_handles.h"
#include "hal/linux/file_key_store.h"
#include "tools/keys/pki_directory.h"

namespace {

using namespace faregate;
namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;

constexpr const char* kDescription = R"(faregate-keys: provisioning for a Faregate network (docs/provisioning.md).

Examples, in the order an operator runs them:
  faregate-keys init-ca --ca-dir pki --org "Metro Transit"
  faregate-keys issue-backoffice --ca-dir pki --out /var/lib/faregate-bo/tls
  faregate-keys sealing-keypair --private-out /var/lib/faregate-bo/sealing_private.pem \
      --public-out sealing_public.pem
  faregate-keys card-token-key --out card_token.key
  faregate-keys issue-device --ca-dir pki --device-id central-entry-1 --out gate1/tls
  faregate-keys issue-maintenance --ca-dir pki --device-id central-entry-1 --out gate1/tls
  faregate-keys issue-technician --ca-dir pki alice --out alice
  faregate-keys revoke-device --ca-dir pki --device-id central-entry-1 \
      --install /var/lib/faregate-bo/tls/revoked.crl
  faregate-keys show --cert gate1/tls/device.crt --json

Exit codes: 0 done; 1 bad arguments, files already there (see --force), or an I/O or crypto
failure (the message says which).)";

struct Common {
  bool json = false;
};

std::int64_t now_utc_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

Result<crypto::Drbg> system_drbg() {
  return crypto::Drbg::from_system_entropy("faregate-keys");
}

int fail(const Error& error) {
  std::cerr << "faregate-keys: " << error.message << "\n";
  return kExitError;
}

int report(const Common& common, const std::string& what, const keys::Written& written) {
  if (common.json) {
    nlohmann::json out;
    out["done"] = what;
    if (!written.name.empty()) out["name"] = written.name;
    if (!written.serial_hex.empty()) out["serial"] = written.serial_hex;
    if (!written.not_after.empty()) out["not_after"] = written.not_after;
    out["files"] = nlohmann::json::array();
    for (const auto& f : written.files) out["files"].push_back(f.string());
    std::cout << out.dump() << "\n";
    return kExitOk;
  }
  std::cout << what;
  if (!written.name.empty()) std::cout << ": " << written.name;
  if (!written.serial_hex.empty()) std::cout << " (serial " << written.serial_hex << ")";
  if (!written.not_after.empty()) std::cout << ", valid until " << written.not_after;
  std::cout << "\n";
  for (const auto& f : written.files) std::cout << "  wrote " << f.string() << "\n";
  return kExitOk;
}

// A subcommand working on the CA folder: --ca-dir comes first in each.
CLI::App* add_ca_subcommand(CLI::App& cli, const std::string& name, const std::string& description,
                            fs::path& ca_dir) {
  auto* sub = cli.add_subcommand(name, description);
  sub->add_option("--ca-dir", ca_dir, "the CA folder")->required();
  return sub;
}

// The options every issue-* subcommand ends with.
void add_validity_options(CLI::App* sub, int& days, bool& force) {
  sub->add_option("--days", days, "validity in days (clipped to the CA's)")->capture_default_str();
  sub->add_flag("--force", force, "replace a certificate already there (renewal)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{kDescription, "faregate-keys"};
  cli.require_subcommand(1);
  // --json may come after the subcommand, where people put it.
  cli.fallthrough();
  Common common;
  cli.add_flag("--json", common.json, "print the result as one JSON object");

  fs::path ca_dir;
  std::string ca_name = "Faregate operator CA";
  std::string organization;
  int ca_days = 3650;
  auto* init_ca = cli.add_subcommand("init-ca", "create the operator CA in a new folder (keep it offline)");
  init_ca->add_option("--ca-dir", ca_dir, "folder for the CA (created; must not hold a CA)")->required();
  init_ca->add_option("--name", ca_name, "the CA's common name")->capture_default_str();
  init_ca->add_option("--org", organization, "organization name put in every certificate");
  init_ca->add_option("--days", ca_days, "validity in days")->capture_default_str();

  fs::path out_dir;
  std::string server_name = "faregate-backoffice";
  int cert_days = 825;
  bool force = false;
  auto* issue_bo = add_ca_subcommand(
      cli, "issue-backoffice",
      "issue the back office's server certificate into its tls folder (server.crt, server.key,\n"
      "device-ca.crt, revoked.crl)",
      ca_dir);
  issue_bo->add_option("--out", out_dir, "the back office's tls folder (DATA_DIR/tls)")->required();
  issue_bo->add_option("--server-name", server_name,
                       "name validators expect (faregate-validator --tls-server-name)")
      ->capture_default_str();
  add_validity_options(issue_bo, cert_days, force);

  std::string device_id;
  auto* issue_dev = add_ca_subcommand(
      cli, "issue-device",
      "issue a validator's device certificate into its tls folder (device.crt, device.key,\n"
      "backoffice-ca.crt); the certificate's common name is the device id",
      ca_dir);
  issue_dev->add_option("--device-id", device_id, "the validator's --device-id")->required();
  issue_dev->add_option("--out", out_dir, "the validator's tls folder (DATA_DIR/tls)")->required();
  add_validity_options(issue_dev, cert_days, force);

  std::string technician;
  auto* issue_tech = add_ca_subcommand(
      cli, "issue-technician",
      "issue a technician's certificate for validators' maintenance ports (technician.crt,\n"
      "technician.key, operator-ca.crt): faregate-flash --device ... presents it",
      ca_dir);
  issue_tech->add_option("name", technician, "the technician (1 to 128 of A-Z a-z 0-9 . _ : -)")
      ->required();
  issue_tech->add_option("--out", out_dir, "folder to write the files to")->required();
  add_validity_options(issue_tech, cert_days, force);

  auto* issue_maint = add_ca_subcommand(
      cli, "issue-maintenance",
      "issue a validator's maintenance-port certificate into its tls folder (maintenance.crt,\n"
      "maintenance.key): needed for faregate-validator --maintenance-port",
      ca_dir);
  issue_maint->add_option("--device-id", device_id, "the validator's --device-id")->required();
  issue_maint->add_option("--out", out_dir, "the validator's tls folder (DATA_DIR/tls)")->required();
  add_validity_options(issue_maint, cert_days, force);

  std::string serial;
  fs::path install;
  auto* revoke = add_ca_subcommand(
      cli, "revoke-device",
      "revoke a device's certificates and rewrite the revocation list (CA_DIR/revoked.crl)",
      ca_dir);
  revoke->add_option("--device-id", device_id, "the device whose certificates to revoke")->required();
  revoke->add_option("--serial", serial, "revoke only this certificate (hex, from issued.tsv)");
  revoke->add_option("--install", install,
                     "also write the list here, atomically (the back office's tls/revoked.crl;\n"
                     "it reloads the file within a second)");

  auto* revoke_tech = add_ca_subcommand(
      cli, "revoke-technician",
      "revoke a technician's certificates and rewrite the revocation list (CA_DIR/revoked.crl)",
      ca_dir);
  revoke_tech->add_option("name", technician, "the technician whose certificates to revoke")
      ->required();
  revoke_tech->add_option("--serial", serial, "revoke only this certificate (hex, from issued.tsv)");
  revoke_tech->add_option("--install", install,
                          "also write the list here, atomically (a validator's tls/revoked.crl,\n"
                          "read by its maintenance port at start)");
  auto* crl =
      add_ca_subcommand(cli, "crl", "rewrite the revocation list from the CA's register", ca_dir);
  crl->add_option("--install", install, "also write the list here, atomically");

  fs::path key_out;
  auto* card_key = cli.add_subcommand(
      "card-token-key", "create the network's card-token key (64 hex digits, mode 0600)");
  card_key->add_option("--out", key_out, "file to create (never overwritten)")->required();

  fs::path private_out;
  fs::path public_out;
  auto* sealing = cli.add_subcommand(
      "sealing-keypair",
      "create the back office's sealing key pair (card data is sealed for it on validators)");
  sealing->add_option("--private-out", private_out, "private key to create (PEM SEC1, mode 0600)")
      ->required();
  sealing->add_option("--public-out", public_out,
                      "public key to create (PEM; becomes each validator's DATA_DIR/sealing_public.pem)")
      ->required();
  sealing->add_flag("--force", force, "replace existing files");

  fs::path cert_file;
  auto* show = cli.add_subcommand("show", "print a certificate's name, serial and validity");
  show->add_option("--cert", cert_file, "certificate file (PEM)")->required();

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? kExitOk : kExitError;
  }

  const std::int64_t now = now_utc_seconds();
  if (show->parsed()) {
    auto certificate = tls::Certificate::load(cert_file);
    if (!certificate) return fail(certificate.error());
    if (common.json) {
      nlohmann::json out{{"common_name", certificate->subject_common_name()},
                         {"serial", certificate->serial_hex()},
                         {"not_after", certificate->not_after()},
                         {"ca", certificate->is_ca()}};
      std::cout << out.dump() << "\n";
    } else {
      std::cout << "common name: " << certificate->subject_common_name() << "\n"
                << "serial:      " << certificate->serial_hex() << "\n"
                << "not after:   " << certificate->not_after() << "\n"
                << "CA:          " << (certificate->is_ca() ? "yes" : "no") << "\n";
    }
    return kExitOk;
  }

  auto drbg = system_drbg();
  if (!drbg) return fail(drbg.error());

  if (init_ca->parsed()) {
    auto pki = keys::PkiDirectory::init(ca_dir, ca_name, organization, ca_days, now, *drbg);
    if (!pki) return fail(pki.error());
    keys::Written written{{ca_dir / keys::kCaCertificateFile, ca_dir / keys::kCaKeyFile,
                           ca_dir / keys::kIssuedFile, ca_dir / keys::kRevokedFile,
                           ca_dir / keys::kCaRevocationListFile},
                          ca_name,
                          pki->authority().certificate().serial_hex(),
                          pki->authority().certificate().not_after()};
    return report(common, "created CA", written);
  }
  if (card_key->parsed()) {
    auto key = drbg->bytes(32);
    if (!key) return fail(key.error());
    std::error_code ec;
    if (fs::exists(key_out, ec)) {
      return fail(Error{ErrorCode::kConflict,
                        key_out.string() + " already exists; a card-token key is never replaced "
                                           "(every card's token would change)"});
    }
    auto written = hal::linux_os::write_key_file(key_out, *key);
    std::fill(key->begin(), key->end(), 0);
    if (!written) return fail(written.error());
    return report(common, "created card-token key", keys::Written{{key_out}, "", "", ""});
  }
  if (sealing->parsed()) {
    auto pair = sealed_box::generate(*drbg);
    if (!pair) return fail(pair.error());
    auto private_pem = pair->private_key.to_pem();
    if (!private_pem) return fail(private_pem.error());
    auto public_pem = pair->public_key.to_pem();
    if (!public_pem) return fail(public_pem.error());
    if (!force) {
      for (const auto& path : {private_out, public_out}) {
        std::error_code ec;
        if (fs::exists(path, ec)) {
          return fail(Error{ErrorCode::kConflict, path.string() + " already exists (--force replaces it)"});
        }
      }
    }
    if (auto s = keys::write_file_atomically(private_out, *private_pem, 0600, force); !s) {
      return fail(s.error());
    }
    std::fill(private_pem->begin(), private_pem->end(), '\0');
    if (auto s = keys::write_file_atomically(public_out, *public_pem, 0644, force); !s) {
      return fail(s.error());
    }
    return report(common, "created sealing key pair", keys::Written{{private_out, public_out}, "", "", ""});
  }

  auto pki = keys::PkiDirectory::open(ca_dir);
  if (!pki) return fail(pki.error());
  const auto finish = [&](const Result<keys::Written>& written, const std::string& what) {
    return written ? report(common, what, *written) : fail(written.error());
  };
  if (issue_bo->parsed()) {
    return finish(pki->issue_backoffice(out_dir, server_name, cert_days, now, *drbg, force),
                  "issued back-office certificate");
  }
  if (issue_dev->parsed()) {
    return finish(pki->issue_device(out_dir, device_id, cert_days, now, *drbg, force),
                  "issued device certificate");
  }
  if (issue_tech->parsed()) {
    return finish(pki->issue_technician(out_dir, technician, cert_days, now, *drbg, force),
                  "issued technician certificate");
  }
  if (issue_maint->parsed()) {
    return finish(pki->issue_maintenance(out_dir, device_id, cert_days, now, *drbg, force),
                  "issued maintenance-port certificate");
  }
  if (revoke_tech->parsed()) {
    return finish(pki->revoke_technician(technician, serial, now, *drbg, install), "revoked");
  }
  if (revoke->parsed()) {
    return finish(pki->revoke_device(device_id, serial, now, *drbg, install), "revoked");
  }
  return finish(pki->refresh_revocation_list(now, *drbg, install), "rewrote revocation list");
}
