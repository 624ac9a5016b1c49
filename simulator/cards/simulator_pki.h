#pragma once
// The simulator's EMV public key infrastructure: one test CA, registered under the Visa and
// Mastercard RIDs with index FA (an index no scheme uses in production), one issuer key that
// the CA certifies per scheme, and a small pool of card (ICC) keys. Every key is generated at
// run time from fixed seeds, so the same keys appear on every machine and no private key is
// stored anywhere; none of them is a production key.
//
// Key sizes follow EMV Book 2's layout rules and exercise both certificate shapes: the 1152-bit
// issuer key does not fit in the 1408-bit CA's certificate (remainder 92), the 1024-bit ICC keys
// do not fit in the issuer's certificate (remainder 9F48). Cards share ICC keys from the pool
// (generating an RSA key per card would take longer than a rider day); each card still has its
// own ICC certificate binding its PAN.
//
// Built once per process, on first use, thread-safe; a few hundred milliseconds.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "firmware/emv/oda/ca_key_table.h"
#include "simulator/cards/issuer/certificate_builder.h"
#include "simulator/cards/issuer/rsa_key_pair.h"

namespace faregate::simulator {

inline constexpr std::uint8_t kTestCaIndex = 0xFA;
// The issuer certificate serial number the test CA lists as revoked.
inline constexpr std::array<std::uint8_t, 3> kRevokedIssuerSerial{0x00, 0x0D, 0xEA};

struct SimulatorPki {
  sim::issuer::RsaKeyPair ca;
  sim::issuer::RsaKeyPair issuer;
  std::vector<sim::issuer::RsaKeyPair> icc_keys;
  // The CA's public keys (Visa RID, Mastercard RID) and revocation list, as a validator loads
  // them.
  emv::oda::CaKeyTable ca_table;
};

// The process's PKI. kCrypto if key generation fails (it does not, short of memory).
Result<const SimulatorPki*> simulator_pki();

// The validator-side table: the test CA keys and revocation list (the shipped production keys
// are added by the validator itself).
Result<emv::oda::CaKeyTable> simulator_ca_keys();

// The same as a CA key file (docs/oda.md format), for validator processes (--ca-keys FILE).
Result<std::string> simulator_ca_keys_json();

}  // namespace faregate::simulator
