// faregate-flash: a technician's tool to install a signed firmware image on a validator and to
// see what it runs: into a validator's data directory (offline, e.g. a mounted SD card or the
// validator's own shell), or over the validator's maintenance port with a technician
// certificate (--device).

#include <CLI/CLI.hpp>
#include <iostream>

#include "firmware/update/boot/build_key.h"
#include "tools/flash/flash_commands.h"
#include "tools/flash/remote_commands.h"

int main(int argc, char** argv) {
  using namespace faregate;
  using namespace faregate::tools;
  CLI::App cli{
      "faregate-flash: installs signed firmware images on validators and shows their slots.\n"
      "The image goes into the inactive slot; the validator boots it in trial mode at its next\n"
      "start and rolls it back unless it reports healthy. Images are verified before and after\n"
      "writing with the key compiled into this program (or --pub).\n\n"
      "Examples:\n"
      "  faregate-flash install --data-dir /mnt/validator/var/lib/faregate validator-1.4.0.fgi\n"
      "  faregate-flash --status --data-dir /mnt/validator/var/lib/faregate\n"
      "  faregate-flash --status --data-dir /mnt/validator/var/lib/faregate --json\n"
      "  faregate-flash --device 10.0.4.17:7460 --cert alice/technician.crt \\\n"
      "      --key alice/technician.key --ca alice/operator-ca.crt --image validator-1.4.0.fgi\n"
      "  faregate-flash --device 10.0.4.17:7460 --cert alice/technician.crt \\\n"
      "      --key alice/technician.key --ca alice/operator-ca.crt --status\n"
      "  (--device: the validator's maintenance port, faregate-validator --maintenance-port; the\n"
      "   certificate from faregate-keys issue-technician; the validator verifies the image\n"
      "   before installing it and reads the slot back after)\n\n"
      "Exit codes: 0 done, 1 bad arguments or I/O error, 2 image refused (damaged, altered, "
      "signed\n"
      "by another key, or a security counter below the validator's)."};
  cli.fallthrough();
  std::filesystem::path data_dir;
  std::filesystem::path pub;
  bool json = false;
  bool status = false;
  auto* data_dir_option = cli.add_option("--data-dir", data_dir, "the validator's data directory");
  RemoteArgs remote;
  std::filesystem::path remote_image;
  auto* device_option =
      cli.add_option("--device", remote.device, "HOST:PORT of the validator's maintenance port");
  device_option->excludes(data_dir_option);
  cli.add_option("--cert", remote.certificate, "technician certificate (with --device)")
      ->needs(device_option)
      ->check(CLI::ExistingFile);
  cli.add_option("--key", remote.key, "its private key (with --device)")
      ->needs(device_option)
      ->check(CLI::ExistingFile);
  cli.add_option("--ca", remote.ca, "the operator CA certificate (with --device)")
      ->needs(device_option)
      ->check(CLI::ExistingFile);
  cli.add_option("--image", remote_image, "the signed image to install (with --device)")
      ->needs(device_option)
      ->check(CLI::ExistingFile);
  cli.add_option("--pub", pub, "public key to verify with instead of the compiled-in one")
      ->check(CLI::ExistingFile);
  cli.add_flag("--json", json, "print the result as one JSON object");
  auto* status_flag =
      cli.add_flag("--status", status, "show what the validator runs and what is pending");
  InstallArgs install;
  auto* install_cmd = cli.add_subcommand("install", "install an image into the inactive slot");
  install_cmd->add_option("image", install.image, "the signed image (.fgi)")
      ->required()
      ->check(CLI::ExistingFile);
  install_cmd->excludes(status_flag);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? kFlashOk : kFlashError;
  }
  if (!remote.device.empty()) {
    remote.json = json;
    if (install_cmd->parsed()) remote_image = install.image;
    if (remote.certificate.empty() || remote.key.empty() || remote.ca.empty()) {
      std::cerr << "faregate-flash: --device needs --cert, --key and --ca (faregate-keys "
                   "issue-technician)\n";
      return kFlashError;
    }
    if (status == !remote_image.empty()) {
      std::cerr << "faregate-flash: with --device give either --status or --image FILE\n";
      return kFlashError;
    }
    if (status) return run_remote_status(remote, std::cout, std::cerr);
    return run_remote_install(remote, remote_image, std::cout, std::cerr);
  }
  if (data_dir.empty()) {
    std::cerr << "faregate-flash: give --data-dir DIR or --device HOST:PORT (see --help)\n";
    return kFlashError;
  }
  if (!status && !install_cmd->parsed()) {
    std::cerr << "faregate-flash: give either --status or install IMAGE (see --help)\n";
    return kFlashError;
  }

  auto trusted = pub.empty() ? update::PublicKey::from_pem(update::build_public_key_pem())
                             : update::PublicKey::from_file(pub);
  if (!trusted) {
    std::cerr << "faregate-flash: " << trusted.error().message << "\n";
    return kFlashError;
  }
  if (status) return run_status({data_dir, json}, *trusted, std::cout, std::cerr);
  install.data_dir = data_dir;
  install.json = json;
  return run_install(install, *trusted, std::cout, std::cerr);
}
