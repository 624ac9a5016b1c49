#pragma once
// The signing side of EMV offline data authentication, for the simulator's virtual cards: a
// test CA certifies issuer keys, issuers certify card (ICC) keys and sign static data, cards
// sign dynamic data. Blocks are laid out as EMV Book 2 prescribes and signed with the RSA
// private operation, so that the firmware's verifier (firmware/emv/oda) checks them exactly as
// it checks a real card.
//
// This is deliberately written apart from the verifying code: tests build with this path and
// verify with the other, so that a misreading of Book 2 on one side shows up as a failure.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"
#include "firmware/emv/oda/ca_key_table.h"
#include "simulator/cards/issuer/rsa_key_pair.h"

namespace faregate::sim::issuer {

// ---- Encodings of card data ---------------------------------------------------------------

// Tag 5A: the PAN's digits in BCD, padded with one F if the count is odd. Requires 8..19
// digits.
Result<Bytes> encode_pan(std::string_view pan_digits);
// The ICC certificate's PAN field: 10 bytes, padded on the right with F.
Result<std::array<std::uint8_t, 10>> certificate_pan(std::string_view pan_digits);
// The issuer identifier: the leftmost `digits` (3..8) PAN digits, padded with F to 4 bytes.
Result<std::array<std::uint8_t, 4>> issuer_identifier(std::string_view pan_digits,
                                                      std::size_t digits);
// Certificate expiry MMYY in BCD. Requires month 1..12, year 1950..2049.
Result<std::array<std::uint8_t, 2>> expiry_mmyy(unsigned month, int year);

// ---- Blocks ---------------------------------------------------------------------------------

// 6A || signed_fields || SHA-1(signed_fields || hashed_only) || BC, signed with `key`.
// `signed_fields` starts with the format byte and must be exactly key.size() - 22 bytes.
// The general form the builders below use; tests use it to make deliberately wrong blocks.
Result<Bytes> sign_with_recovery(const RsaKeyPair& key, ByteView signed_fields,
                                 ByteView hashed_only, crypto::Drbg& drbg);

// ---- Certificates and signatures -------------------------------------------------------------

struct IssuerCertificateFields {
  std::array<std::uint8_t, 4> issuer_identifier{};
  std::array<std::uint8_t, 2> expiry{};  // MMYY
  std::array<std::uint8_t, 3> serial_number{0x00, 0x00, 0x01};
};

struct IssuerCertificate {
  Bytes certificate;  // 90
  Bytes remainder;    // 92, empty if the key fits in the certificate
  Bytes exponent;     // 9F32
};

// Requires: issuer key no longer than the CA key (kInvalidArgument otherwise).
Result<IssuerCertificate> build_issuer_certificate(const RsaKeyPair& ca,
                                                   const emv::oda::RsaPublicKey& issuer_key,
                                                   const IssuerCertificateFields& fields,
                                                   crypto::Drbg& drbg);

struct IccCertificateFields {
  std::array<std::uint8_t, 10> pan{};    // certificate_pan()
  std::array<std::uint8_t, 2> expiry{};  // MMYY
  std::array<std::uint8_t, 3> serial_number{0x00, 0x00, 0x01};
};

struct IccCertificate {
  Bytes certificate;  // 9F46
  Bytes remainder;    // 9F48, empty if the key fits in the certificate
  Bytes exponent;     // 9F47
};

// `static_data` is the static data to be authenticated the card will present.
// Requires: ICC key no longer than the issuer key.
Result<IccCertificate> build_icc_certificate(const RsaKeyPair& issuer,
                                             const emv::oda::RsaPublicKey& icc_key,
                                             const IccCertificateFields& fields,
                                             ByteView static_data, crypto::Drbg& drbg);

// Signed static application data (93) for SDA.
Result<Bytes> sign_static_data(const RsaKeyPair& issuer,
                               const std::array<std::uint8_t, 2>& data_authentication_code,
                               ByteView static_data, crypto::Drbg& drbg);

// ICC dynamic data holding only an ICC dynamic number: length byte || number (2..8 bytes).
Result<Bytes> icc_dynamic_data(ByteView icc_dynamic_number);

// Signed dynamic application data (9F4B) for DDA / fDDA: `dynamic_data` is the ICC dynamic
// data, `terminal_data` the terminal's data the card was asked to sign (DDOL values, or the
// fDDA data: unpredictable number, amount, currency, card authentication related data).
// Requires: dynamic_data.size() <= icc.size() - 25.
Result<Bytes> sign_dynamic_data(const RsaKeyPair& icc, ByteView dynamic_data,
                                ByteView terminal_data, crypto::Drbg& drbg);

// ---- The simulator's test CA ------------------------------------------------------------------

// The table entry for a CA key pair, with its checksum computed, ready for CaKeyTable::add.
emv::oda::CaPublicKey ca_public_key(const RsaKeyPair& ca, const emv::oda::Rid& rid,
                                    std::uint8_t index,
                                    std::optional<std::chrono::year_month_day> expiry,
                                    std::string source);

struct TestCertificateAuthority {
  RsaKeyPair key;
  emv::oda::CaPublicKey public_key;
};

// The simulator's CA for one scheme (RID), generated from `seed` at run time: the same seed
// gives the same key on every run and every machine, so nothing secret is stored anywhere.
// Never a production key: validators load it only in simulation.
Result<TestCertificateAuthority> generate_test_ca(const emv::oda::Rid& rid, std::uint8_t index,
                                                  unsigned bits, std::uint64_t seed);

}  // namespace faregate::sim::issuer
