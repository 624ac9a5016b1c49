// faregate-flash: a technician's tool to install a signed firmware image on a validator and to
// see what it runs. This build installs into a validator's data directory (offline, e.g. a
// mounted SD card or the validator's own shell).

#include <CLI/CLI.hpp>
#include <iostream>

#include "firmware/update/boot/build_key.h"
#include "tools/flash/flash_commands.h"

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
      "  faregate-flash --status --data-dir /mnt/validator/var/lib/faregate --json\n\n"
      "Exit codes: 0 done, 1 bad arguments or I/O error, 2 image refused (damaged, altered, "
      "signed\n"
      "by another key, or a security counter below the validator's)."};
  cli.fallthrough();
  std::filesystem::path data_dir;
  std::filesystem::path pub;
  bool json = false;
  bool status = false;
  cli.add_option("--data-dir", data_dir, "the validator's data directory")->required();
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
