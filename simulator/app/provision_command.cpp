#include "simulator/app/provision_command.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "hal/linux/file_key_store.h"
#include "simulator/cards/simulator_pki.h"
#include "simulator/network/simulated_keys.h"

namespace faregate::simulator {

namespace {

Status write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return make_error(ErrorCode::kIo, "cannot write " + path.string());
  return {};
}

Status provision(const ProvisionOptions& options) {
  const std::filesystem::path dir = options.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());

  const auto token_key = dir / "card_token.key";
  if (!std::filesystem::exists(token_key)) {
    if (auto written = hal::linux_os::write_key_file(token_key,
                                                     simulated_card_token_key(options.seed));
        !written) {
      return written;
    }
  }
  auto sealing = simulated_sealing_private_key(options.seed);
  if (!sealing) return std::unexpected(sealing.error());
  auto public_pem = sealing->public_key().to_pem();
  if (!public_pem) return std::unexpected(public_pem.error());
  if (auto w = write_text(dir / "sealing_public.pem", *public_pem); !w) return w;
  auto ca_json = simulator_ca_keys_json();
  if (!ca_json) return std::unexpected(ca_json.error());
  if (auto w = write_text(dir / "sim_ca_keys.json", *ca_json); !w) return w;
  if (!options.backoffice_key_file.empty()) {
    auto private_pem = sealing->to_pem();
    if (!private_pem) return std::unexpected(private_pem.error());
    if (auto w = write_text(options.backoffice_key_file, *private_pem); !w) return w;
    std::filesystem::permissions(options.backoffice_key_file, std::filesystem::perms::owner_read |
                                                                  std::filesystem::perms::owner_write,
                                 ec);
  }
  return {};
}

}  // namespace

int run_provision(const ProvisionOptions& options) {
  if (auto done = provision(options); !done) {
    std::cerr << "faregate-sim provision: " << done.error().describe() << "\n";
    return 1;
  }
  std::cout << "provisioned " << options.data_dir
            << ": card_token.key, sealing_public.pem, sim_ca_keys.json (pass --ca-keys "
            << (std::filesystem::path(options.data_dir) / "sim_ca_keys.json").string()
            << " to faregate-validator)\n";
  return 0;
}

}  // namespace faregate::simulator
