#pragma once
// The keys a simulated operator provisions on every validator of a simulated network: the
// card-token key, the back office's sealing key pair, and the CA keys for ODA (the simulator's
// test CA). Derived from the scenario seed, so every run with a seed sees the same tokens.
// Never production keys.

#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"
#include "common/sealed_box.h"
#include "firmware/emv/oda/ca_key_table.h"
#include "hal/sim/static_key_store.h"

namespace faregate::simulator {

Bytes simulated_card_token_key(std::uint64_t seed);
Result<sealed_box::PrivateKey> simulated_sealing_private_key(std::uint64_t seed);
// Card-token key and the sealing public key, as a validator holds them.
Result<hal::sim::StaticKeyStore> simulated_key_store(std::uint64_t seed);
// The simulator's test CA keys and revocation list.
Result<emv::oda::CaKeyTable> simulated_ca_keys();

}  // namespace faregate::simulator
