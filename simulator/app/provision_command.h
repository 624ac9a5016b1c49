#pragma once
// faregate-sim provision: writes into a validator's data directory the keys a simulated
// network's operator would provision (docs/scenario_format.md), so that a real
// faregate-validator process can join a simulated network:
//   card_token.key        the network's card-token key (mode 0600)
//   sealing_public.pem    the simulated back office's sealing public key
//   sim_ca_keys.json      the simulator's test CA keys and revocation list (--ca-keys)
// With --backoffice-key FILE it also writes the sealing private key for the back office.

#include <cstdint>
#include <string>

namespace faregate::simulator {

struct ProvisionOptions {
  std::string data_dir;
  std::uint64_t seed = 1;
  std::string backoffice_key_file;  // empty: not written
};

// Exit code: 0 written, 1 an I/O or key error (message on stderr).
int run_provision(const ProvisionOptions& options);

}  // namespace faregate::simulator
