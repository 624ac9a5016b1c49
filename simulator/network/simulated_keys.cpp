#include "simulator/network/simulated_keys.h"

#include "common/crypto.h"
#include "simulator/cards/simulator_pki.h"

namespace faregate::simulator {

Bytes simulated_card_token_key(std::uint64_t seed) {
  auto drbg = crypto::Drbg::deterministic(seed ^ 0x746f6b656e6b6579ULL);
  auto key = drbg.bytes(32);
  return key ? *key : Bytes(32, 0x5a);
}

Result<sealed_box::PrivateKey> simulated_sealing_private_key(std::uint64_t seed) {
  // A scalar from the seed; the rare value outside [1, n-1] is skipped by drawing again.
  auto drbg = crypto::Drbg::deterministic(seed ^ 0x7365616c696e6721ULL);
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto scalar = drbg.bytes(sealed_box::kPrivateKeyBytes);
    if (!scalar) return std::unexpected(scalar.error());
    if (auto key = sealed_box::PrivateKey::from_raw(*scalar)) return key;
  }
  return make_error(ErrorCode::kCrypto, "cannot derive a sealing key from the seed");
}

Result<hal::sim::StaticKeyStore> simulated_key_store(std::uint64_t seed) {
  auto sealing = simulated_sealing_private_key(seed);
  if (!sealing) return std::unexpected(sealing.error());
  return hal::sim::StaticKeyStore(simulated_card_token_key(seed), sealing->public_key());
}

Result<emv::oda::CaKeyTable> simulated_ca_keys() { return simulator_ca_keys(); }

}  // namespace faregate::simulator
