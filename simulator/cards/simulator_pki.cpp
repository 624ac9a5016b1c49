#include "simulator/cards/simulator_pki.h"

#include <mutex>

#include <nlohmann/json.hpp>

namespace faregate::simulator {

namespace {

using sim::issuer::RsaKeyPair;

constexpr emv::oda::Rid kVisaRid{0xA0, 0x00, 0x00, 0x00, 0x03};
constexpr emv::oda::Rid kMastercardRid{0xA0, 0x00, 0x00, 0x00, 0x04};
constexpr std::uint64_t kCaSeed = 0x4641524547415445;  // "FAREGATE"
constexpr std::uint64_t kIssuerSeed = kCaSeed + 1;
constexpr std::uint64_t kIccSeed = kCaSeed + 2;
constexpr std::size_t kIccPool = 2;

Result<std::unique_ptr<SimulatorPki>> build() {
  auto ca_drbg = crypto::Drbg::deterministic(kCaSeed);
  auto ca = RsaKeyPair::generate(ca_drbg, 1408, 3);
  if (!ca) return std::unexpected(ca.error());
  auto issuer_drbg = crypto::Drbg::deterministic(kIssuerSeed);
  auto issuer = RsaKeyPair::generate(issuer_drbg, 1152, 3);
  if (!issuer) return std::unexpected(issuer.error());
  std::vector<RsaKeyPair> icc;
  auto icc_drbg = crypto::Drbg::deterministic(kIccSeed);
  for (std::size_t i = 0; i < kIccPool; ++i) {
    auto key = RsaKeyPair::generate(icc_drbg, 1024, 65537);
    if (!key) return std::unexpected(key.error());
    icc.push_back(std::move(*key));
  }
  emv::oda::CaKeyTable table;
  for (const auto& rid : {kVisaRid, kMastercardRid}) {
    auto added = table.add(sim::issuer::ca_public_key(
        *ca, rid, kTestCaIndex, std::nullopt,
        "Faregate simulator test CA, generated from a fixed seed (not a production key)"));
    if (!added) return std::unexpected(added.error());
    table.revoke_issuer_certificate(rid, kTestCaIndex, kRevokedIssuerSerial);
  }
  return std::make_unique<SimulatorPki>(
      SimulatorPki{std::move(*ca), std::move(*issuer), std::move(icc), std::move(table)});
}

}  // namespace

Result<const SimulatorPki*> simulator_pki() {
  static std::mutex mutex;
  static std::unique_ptr<SimulatorPki> pki;
  std::lock_guard lock(mutex);
  if (!pki) {
    auto built = build();
    if (!built) return std::unexpected(built.error());
    pki = std::move(*built);
  }
  return pki.get();
}

Result<emv::oda::CaKeyTable> simulator_ca_keys() {
  auto pki = simulator_pki();
  if (!pki) return std::unexpected(pki.error());
  emv::oda::CaKeyTable copy;
  if (auto merged = copy.merge((*pki)->ca_table); !merged) return std::unexpected(merged.error());
  return copy;
}

Result<std::string> simulator_ca_keys_json() {
  auto pki = simulator_pki();
  if (!pki) return std::unexpected(pki.error());
  nlohmann::json keys = nlohmann::json::array();
  nlohmann::json revoked = nlohmann::json::array();
  for (const auto& [slot, key] : (*pki)->ca_table) {
    keys.push_back({{"scheme", "Faregate simulator test CA"},
                    {"rid", to_hex(key.rid)},
                    {"index", to_hex(ByteView(&key.index, 1))},
                    {"modulus", to_hex(key.modulus)},
                    {"exponent", to_hex(key.exponent)},
                    {"checksum", to_hex(key.checksum)},
                    {"expiry", nullptr},
                    {"source", key.source}});
    revoked.push_back({{"rid", to_hex(key.rid)},
                       {"index", to_hex(ByteView(&key.index, 1))},
                       {"serial", to_hex(kRevokedIssuerSerial)}});
  }
  nlohmann::json doc = {{"format", "faregate-emv-ca-keys/1"},
                        {"keys", keys},
                        {"revoked_issuer_certificates", revoked}};
  return doc.dump(2) + "\n";
}

}  // namespace faregate::simulator
