#pragma once
// EMV offline data authentication, verifying side (EMV 4.4 Book 2, sections 5 and 6):
//   1. recover the issuer public key from its certificate (tag 90) with the CA key,
//   2. for (f)DDA: recover the ICC public key from its certificate (9F46) with the issuer key,
//      then verify the signed dynamic application data (9F4B) and return the ICC dynamic number;
//   3. for SDA: verify the signed static application data (93) with the issuer key.
//
// All inputs except the CA key table come from the card and are treated as hostile: every
// length is checked before it is used and nothing here asserts or throws on card data. A card
// that fails authentication is a normal outcome, reported as an OdaFailure with its own reason
// code (logged and counted by the tap pipeline), never as an Error.
//
// Not done here (belongs to the kernel): reading the tags, building the static data to be
// authenticated from the AFL records and the SDA tag list, building the DDOL / fDDA data, and
// the CA's issuer certificate revocation list (Book 2, 5.3 step 9).

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <string_view>

#include "common/bytes.h"
#include "firmware/emv/oda/ca_key_table.h"

namespace faregate::emv::oda {

// One reason per check that can fail. The string forms (to_string) are stable: they go into
// tap records and metrics.
enum class OdaFailure : std::uint8_t {
  kCaKeyUnknown,  // no CA key for RID / index (8F)
  kCaKeyExpired,  // the table's expiry for that CA key is before the transaction date
  kPanMalformed,  // tag 5A is not 8..19 BCD digits padded with F

  kIssuerCertBadLength,         // 90 is not as long as the CA modulus
  kIssuerCertNotRecoverable,    // the RSA operation refused it (value not below the modulus)
  kIssuerCertBadTrailer,        // recovered data does not end with BC
  kIssuerCertBadHeader,         // recovered data does not start with 6A
  kIssuerCertBadFormat,         // certificate format is not 02
  kIssuerCertBadHashAlgorithm,  // hash algorithm indicator is not 01 (SHA-1)
  kIssuerCertBadKeyLength,      // issuer key length is 0 or longer than the CA key
  kIssuerCertBadExponent,       // 9F32 is not 03 / 010001 or disagrees with the certificate
  kIssuerCertBadRemainder,      // 92 is missing or has the wrong length
  kIssuerCertHashMismatch,      // SHA-1 over the certified fields differs
  kIssuerCertPanMismatch,       // issuer identifier is not the leftmost PAN digits
  kIssuerCertBadDate,           // expiry is not a valid MMYY
  kIssuerCertExpired,           // expiry month ended before the transaction date
  kIssuerCertBadKeyAlgorithm,   // public key algorithm indicator is not 01 (RSA)

  kIccCertBadLength,
  kIccCertNotRecoverable,
  kIccCertBadTrailer,
  kIccCertBadHeader,
  kIccCertBadFormat,  // not 04
  kIccCertBadHashAlgorithm,
  kIccCertBadKeyLength,
  kIccCertBadExponent,   // 9F47
  kIccCertBadRemainder,  // 9F48
  kIccCertHashMismatch,  // includes the static data to be authenticated
  kIccCertPanMismatch,   // certified PAN differs from 5A
  kIccCertBadDate,
  kIccCertExpired,
  kIccCertBadKeyAlgorithm,

  kSdadBadLength,  // 9F4B is not as long as the ICC modulus
  kSdadNotRecoverable,
  kSdadBadTrailer,
  kSdadBadHeader,
  kSdadBadFormat,  // not 05
  kSdadBadHashAlgorithm,
  kSdadBadDynamicData,  // ICC dynamic data length or ICC dynamic number length out of range
  kSdadHashMismatch,    // includes the terminal's dynamic data (unpredictable number, ...)

  kSsadBadLength,  // 93 is not as long as the issuer modulus
  kSsadNotRecoverable,
  kSsadBadTrailer,
  kSsadBadHeader,
  kSsadBadFormat,  // not 03
  kSsadBadHashAlgorithm,
  kSsadHashMismatch,

  kIssuerCertRevoked,  // the CA's revocation list names this issuer certificate

  // CDA (Book 2, 6.6): the SDAD comes in the GENERATE AC answer.
  kCdaBadDynamicData,  // ICC dynamic data too short for CID, cryptogram and hash code
  kCdaCidMismatch,     // the signed cryptogram information data differs from 9F27
  kCdaHashMismatch,    // the transaction data hash code differs from the terminal's

  // Kernel level: what the card offered.
  kDataMissing,   // a data object the method needs is absent (8F, 90, 9F32, 9F46, 9F4B, 93, ...)
  kNotSupported,  // the card offers no method the validator performs (AIP)
};

// "ca_key_unknown", "issuer_cert_hash_mismatch", "sdad_bad_format", ...
std::string_view to_string(OdaFailure failure);

template <typename T>
using OdaResult = std::expected<T, OdaFailure>;

using Date = std::chrono::year_month_day;

struct RsaPublicKey {
  Bytes modulus;   // big-endian
  Bytes exponent;  // 03 or 01 00 01
};

// Tag values as read from the card; a missing optional tag is an empty view.
struct IssuerCertificateData {
  ByteView certificate;  // 90
  ByteView remainder;    // 92
  ByteView exponent;     // 9F32
};

struct IccCertificateData {
  ByteView certificate;  // 9F46
  ByteView remainder;    // 9F48
  ByteView exponent;     // 9F47
};

struct IssuerPublicKey {
  RsaPublicKey key;
  std::array<std::uint8_t, 4> issuer_identifier{};  // leftmost 3-8 PAN digits, F padded
  std::array<std::uint8_t, 2> expiry{};             // MMYY, BCD
  std::array<std::uint8_t, 3> serial_number{};
};

struct IccPublicKey {
  RsaPublicKey key;
  std::array<std::uint8_t, 10> pan{};  // F padded
  std::array<std::uint8_t, 2> expiry{};
  std::array<std::uint8_t, 3> serial_number{};
};

struct DynamicSignature {
  Bytes icc_dynamic_data;    // as signed, starting with the ICC dynamic number length
  Bytes icc_dynamic_number;  // 2..8 bytes (tag 9F4C)
};

struct StaticSignature {
  std::array<std::uint8_t, 2> data_authentication_code{};  // tag 9F45
};

// The CA key for RID / 8F, checked against its expiry at `today`.
OdaResult<const CaPublicKey*> find_ca_key(const CaKeyTable& table, const Rid& rid,
                                          std::uint8_t ca_index, Date today);

// Book 2, 5.3. `pan` is tag 5A as read. `today` is the transaction date.
OdaResult<IssuerPublicKey> recover_issuer_public_key(const CaPublicKey& ca,
                                                     const IssuerCertificateData& data,
                                                     ByteView pan, Date today);
// The same after looking the CA key up (ca_key_unknown / ca_key_expired).
OdaResult<IssuerPublicKey> recover_issuer_public_key(const CaKeyTable& table, const Rid& rid,
                                                     std::uint8_t ca_index,
                                                     const IssuerCertificateData& data,
                                                     ByteView pan, Date today);

// Book 2, 6.4. `static_data` is the static data to be authenticated (AFL records marked for
// ODA, then the SDA tag list values), as the kernel assembled it.
OdaResult<IccPublicKey> recover_icc_public_key(const IssuerPublicKey& issuer,
                                               const IccCertificateData& data, ByteView pan,
                                               ByteView static_data, Date today);

// Book 2, 6.5.2 (DDA) and the fDDA variant: `terminal_data` is the data the card signed along
// with its dynamic data, concatenated in order (for DDA the DDOL values; for Visa fDDA the
// unpredictable number 9F37, amount 9F02, currency 5F2A and card authentication related data
// 9F69).
OdaResult<DynamicSignature> verify_signed_dynamic_data(const IccPublicKey& icc, ByteView sdad,
                                                       ByteView terminal_data);

// The ICC dynamic data of a CDA signature (Book 2, 6.6.1, table 19).
struct CdaDynamicData {
  Bytes icc_dynamic_number;
  std::uint8_t cryptogram_information_data = 0;     // 9F27
  std::array<std::uint8_t, 8> application_cryptogram{};  // 9F26
  Sha1Digest transaction_data_hash{};
};

// Splits the ICC dynamic data that verify_signed_dynamic_data returned for a CDA signature.
OdaResult<CdaDynamicData> parse_cda_dynamic_data(ByteView icc_dynamic_data);

// Book 2, 5.4 (SDA).
OdaResult<StaticSignature> verify_signed_static_data(const IssuerPublicKey& issuer, ByteView ssad,
                                                     ByteView static_data);

}  // namespace faregate::emv::oda
