// faregate-sign: makes and checks signed firmware images (docs/firmware_image.md).

#include <CLI/CLI.hpp>
#include <iostream>

#include "tools/sign/sign_commands.h"

int main(int argc, char** argv) {
  using namespace faregate::tools;
  CLI::App cli{
      "faregate-sign: signing keys and signed firmware images for Faregate validators.\n\n"
      "Examples:\n"
      "  faregate-sign keygen --out-key release.key.pem --out-pub release.pub.pem\n"
      "  faregate-sign sign --key release.key.pem --version 1.4.0 --counter 3 \\\n"
      "      --in build/firmware/app/faregate-validator --out validator-1.4.0.fgi\n"
      "  faregate-sign verify --pub release.pub.pem validator-1.4.0.fgi\n"
      "  faregate-sign show validator-1.4.0.fgi --json\n"
      "  faregate-sign export validator-1.4.0.fgi --header-and-payload hp.bin --signature sig.der\n"
      "  openssl dgst -sha256 -verify release.pub.pem -signature sig.der hp.bin\n\n"
      "Exit codes: 0 done, 1 bad arguments or I/O error, 2 image refused (damaged, altered, "
      "signed\n"
      "by another key, or below --min-counter)."};
  cli.require_subcommand(1);

  KeygenArgs keygen;
  auto* keygen_cmd = cli.add_subcommand("keygen", "create an ECDSA P-256 signing key pair");
  keygen_cmd->add_option("--out-key", keygen.out_key, "private key file to create (PEM, mode 0600)")
      ->required();
  keygen_cmd->add_option("--out-pub", keygen.out_pub, "public key file to create (PEM)")
      ->required();
  keygen_cmd->add_flag("--force", keygen.force, "replace existing files");

  SignArgs sign;
  auto* sign_cmd = cli.add_subcommand("sign", "sign a validator program into a firmware image");
  sign_cmd->add_option("--key", sign.key, "private key (PEM, P-256; from keygen or faregate-keys)")
      ->required()
      ->check(CLI::ExistingFile);
  sign_cmd->add_option("--version", sign.version, "firmware version, 1..32 printable characters")
      ->required();
  sign_cmd
      ->add_option("--counter", sign.counter,
                   "security counter; raise it when a release fixes a vulnerability")
      ->required();
  sign_cmd->add_option("--in", sign.in, "the validator program")
      ->required()
      ->check(CLI::ExistingFile);
  sign_cmd->add_option("--out", sign.out, "image file to create")->required();
  sign_cmd->add_flag("--force", sign.force, "replace an existing image file");

  VerifyArgs verify;
  auto* verify_cmd = cli.add_subcommand("verify", "check an image's signature, key and integrity");
  verify_cmd->add_option("--pub", verify.pub, "public key the image must be signed with")
      ->required()
      ->check(CLI::ExistingFile);
  verify_cmd->add_option("image", verify.image, "image file")->required()->check(CLI::ExistingFile);
  verify_cmd->add_option("--min-counter", verify.min_counter,
                         "refuse images with a lower security counter");
  verify_cmd->add_flag("--json", verify.json, "print the result as one JSON object");

  ShowArgs show;
  auto* show_cmd = cli.add_subcommand("show", "print an image's header (signature not checked)");
  show_cmd->add_option("image", show.image, "image file")->required()->check(CLI::ExistingFile);
  show_cmd->add_flag("--json", show.json, "print the header as one JSON object");

  ExportArgs exp;
  auto* export_cmd =
      cli.add_subcommand("export", "write the signed part and the signature to files, for openssl");
  export_cmd->add_option("image", exp.image, "image file")->required()->check(CLI::ExistingFile);
  export_cmd
      ->add_option("--header-and-payload", exp.header_and_payload, "file for header + payload")
      ->required();
  export_cmd->add_option("--signature", exp.signature, "file for the DER signature")->required();
  export_cmd->add_flag("--force", exp.force, "replace existing files");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? kExitOk : kExitError;
  }
  if (keygen_cmd->parsed()) return run_keygen(keygen, std::cout, std::cerr);
  if (sign_cmd->parsed()) return run_sign(sign, std::cout, std::cerr);
  if (verify_cmd->parsed()) return run_verify(verify, std::cout, std::cerr);
  if (show_cmd->parsed()) return run_show(show, std::cout, std::cerr);
  return run_export(exp, std::cout, std::cerr);
}
