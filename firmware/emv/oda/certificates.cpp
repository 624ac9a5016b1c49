#include "firmware/emv/oda/certificates.h"

#include <mbedtls/rsa.h>

#include <algorithm>
#include <optional>
#include <string>

#include "common/crypto.h"

namespace faregate::emv::oda {

namespace {

// Layout constants of the recovered data (Book 2, 5.3, 5.4, 6.4 and 6.5.2).
constexpr std::uint8_t kHeader = 0x6A;
constexpr std::uint8_t kTrailer = 0xBC;
constexpr std::uint8_t kFormatIssuerCert = 0x02;
constexpr std::uint8_t kFormatSsad = 0x03;
constexpr std::uint8_t kFormatIccCert = 0x04;
constexpr std::uint8_t kFormatSdad = 0x05;
constexpr std::uint8_t kHashSha1 = 0x01;
constexpr std::uint8_t kKeyAlgorithmRsa = 0x01;
// Header, hash and trailer: the bytes of a recovered block that are not the signed fields.
constexpr std::size_t kHashAndTrailer = kSha1Bytes + 1;
// Issuer certificate: 15 bytes before the key field, 21 after it.
constexpr std::size_t kIssuerFixedBytes = 36;
// ICC certificate: 21 bytes before the key field, 21 after it.
constexpr std::size_t kIccFixedBytes = 42;
// SDAD: header, format, hash algorithm, Ldd, then (dynamic data, pad), hash, trailer.
constexpr std::size_t kSdadFixedBytes = 25;
// SSAD: header, format, hash algorithm, 2-byte DAC, pad, hash, trailer.
constexpr std::size_t kSsadFixedBytes = 26;

class RsaContext {
 public:
  RsaContext() { mbedtls_rsa_init(&ctx_, MBEDTLS_RSA_PKCS_V15, 0); }
  ~RsaContext() { mbedtls_rsa_free(&ctx_); }
  RsaContext(const RsaContext&) = delete;
  RsaContext& operator=(const RsaContext&) = delete;
  mbedtls_rsa_context* get() { return &ctx_; }

 private:
  mbedtls_rsa_context ctx_;
};

// The checks every recovery shares, each with its stage's reason code.
struct Stage {
  OdaFailure bad_length;
  OdaFailure not_recoverable;
  OdaFailure bad_trailer;
  OdaFailure bad_header;
  OdaFailure bad_format;
  OdaFailure bad_hash_algorithm;
  OdaFailure hash_mismatch;
  std::uint8_t format;
  std::size_t hash_algorithm_offset;
  std::size_t min_bytes;  // smallest modulus the layout fits in
};

constexpr Stage kIssuerStage{
    .bad_length = OdaFailure::kIssuerCertBadLength,
    .not_recoverable = OdaFailure::kIssuerCertNotRecoverable,
    .bad_trailer = OdaFailure::kIssuerCertBadTrailer,
    .bad_header = OdaFailure::kIssuerCertBadHeader,
    .bad_format = OdaFailure::kIssuerCertBadFormat,
    .bad_hash_algorithm = OdaFailure::kIssuerCertBadHashAlgorithm,
    .hash_mismatch = OdaFailure::kIssuerCertHashMismatch,
    .format = kFormatIssuerCert,
    .hash_algorithm_offset = 11,
    .min_bytes = kIssuerFixedBytes,
};
constexpr Stage kIccStage{
    .bad_length = OdaFailure::kIccCertBadLength,
    .not_recoverable = OdaFailure::kIccCertNotRecoverable,
    .bad_trailer = OdaFailure::kIccCertBadTrailer,
    .bad_header = OdaFailure::kIccCertBadHeader,
    .bad_format = OdaFailure::kIccCertBadFormat,
    .bad_hash_algorithm = OdaFailure::kIccCertBadHashAlgorithm,
    .hash_mismatch = OdaFailure::kIccCertHashMismatch,
    .format = kFormatIccCert,
    .hash_algorithm_offset = 17,
    .min_bytes = kIccFixedBytes,
};
constexpr Stage kSdadStage{
    .bad_length = OdaFailure::kSdadBadLength,
    .not_recoverable = OdaFailure::kSdadNotRecoverable,
    .bad_trailer = OdaFailure::kSdadBadTrailer,
    .bad_header = OdaFailure::kSdadBadHeader,
    .bad_format = OdaFailure::kSdadBadFormat,
    .bad_hash_algorithm = OdaFailure::kSdadBadHashAlgorithm,
    .hash_mismatch = OdaFailure::kSdadHashMismatch,
    .format = kFormatSdad,
    .hash_algorithm_offset = 2,
    .min_bytes = kSdadFixedBytes,
};
constexpr Stage kSsadStage{
    .bad_length = OdaFailure::kSsadBadLength,
    .not_recoverable = OdaFailure::kSsadNotRecoverable,
    .bad_trailer = OdaFailure::kSsadBadTrailer,
    .bad_header = OdaFailure::kSsadBadHeader,
    .bad_format = OdaFailure::kSsadBadFormat,
    .bad_hash_algorithm = OdaFailure::kSsadBadHashAlgorithm,
    .hash_mismatch = OdaFailure::kSsadHashMismatch,
    .format = kFormatSsad,
    .hash_algorithm_offset = 2,
    .min_bytes = kSsadFixedBytes,
};

// RSA public operation on `signature` and the checks of Book 2 steps 1-4: length, trailer,
// header, format, hash algorithm. Returns the recovered block (same length as the modulus).
OdaResult<Bytes> recover(const RsaPublicKey& key, ByteView signature, const Stage& stage) {
  if (key.modulus.size() < stage.min_bytes || signature.size() != key.modulus.size()) {
    return std::unexpected(stage.bad_length);
  }
  RsaContext rsa;
  if (mbedtls_rsa_import_raw(rsa.get(), key.modulus.data(), key.modulus.size(), nullptr, 0, nullptr,
                             0, nullptr, 0, key.exponent.data(), key.exponent.size()) != 0 ||
      mbedtls_rsa_complete(rsa.get()) != 0 || mbedtls_rsa_check_pubkey(rsa.get()) != 0 ||
      mbedtls_rsa_get_len(rsa.get()) != key.modulus.size()) {
    // A certified key mbedTLS cannot use (even modulus, leading zero byte, ...): the
    // signature under it cannot be recovered.
    return std::unexpected(stage.not_recoverable);
  }
  Bytes recovered(key.modulus.size());
  // Fails when the signature is not below the modulus: hostile input, not a fault of ours.
  if (mbedtls_rsa_public(rsa.get(), signature.data(), recovered.data()) != 0) {
    return std::unexpected(stage.not_recoverable);
  }
  if (recovered.back() != kTrailer) return std::unexpected(stage.bad_trailer);
  if (recovered.front() != kHeader) return std::unexpected(stage.bad_header);
  if (recovered[1] != stage.format) return std::unexpected(stage.bad_format);
  if (recovered[stage.hash_algorithm_offset] != kHashSha1) {
    return std::unexpected(stage.bad_hash_algorithm);
  }
  return recovered;
}

// The signed fields of a recovered block: from the format byte up to the hash.
ByteView signed_fields(const Bytes& recovered) {
  return ByteView(recovered).subspan(1, recovered.size() - 1 - kHashAndTrailer);
}

ByteView recovered_hash(const Bytes& recovered) {
  return ByteView(recovered).subspan(recovered.size() - kHashAndTrailer, kSha1Bytes);
}

bool hash_matches(const Bytes& recovered, const Sha1Digest& computed) {
  return crypto::equal_constant_time(recovered_hash(recovered), computed);
}

// Digits of a BCD field padded on the right with F nibbles: digits first, then only Fs.
// Returns nothing if a nibble is A-E or a digit follows an F.
std::optional<std::string> padded_digits(ByteView field) {
  std::string digits;
  bool padding = false;
  for (std::uint8_t byte : field) {
    for (std::uint8_t nibble :
         {static_cast<std::uint8_t>(byte >> 4), static_cast<std::uint8_t>(byte & 0x0F)}) {
      if (nibble == 0x0F) {
        padding = true;
      } else if (nibble > 9 || padding) {
        return std::nullopt;
      } else {
        digits.push_back(static_cast<char>('0' + nibble));
      }
    }
  }
  return digits;
}

// Tag 5A: 8 to 19 digits (ISO/IEC 7812), at most 10 bytes.
std::optional<std::string> pan_digits(ByteView pan) {
  if (pan.empty() || pan.size() > 10) return std::nullopt;
  auto digits = padded_digits(pan);
  if (!digits || digits->size() < 8 || digits->size() > 19) return std::nullopt;
  return digits;
}

std::optional<int> bcd_byte(std::uint8_t b) {
  const int high = b >> 4;
  const int low = b & 0x0F;
  if (high > 9 || low > 9) return std::nullopt;
  return high * 10 + low;
}

enum class ExpiryCheck { kValid, kBadDate, kExpired };

// Book 2: the certificate is valid through the last day of its MMYY month. Two-digit years
// follow Book 4's rule: 00-49 are 20YY, 50-99 are 19YY.
ExpiryCheck check_expiry(const std::array<std::uint8_t, 2>& mmyy, Date today) {
  const auto month = bcd_byte(mmyy[0]);
  const auto year = bcd_byte(mmyy[1]);
  if (!month || !year || *month < 1 || *month > 12) return ExpiryCheck::kBadDate;
  const int full_year = *year < 50 ? 2000 + *year : 1900 + *year;
  const Date last_day{std::chrono::year_month_day_last(
      std::chrono::year(full_year),
      std::chrono::month_day_last(std::chrono::month(static_cast<unsigned>(*month))))};
  return today > last_day ? ExpiryCheck::kExpired : ExpiryCheck::kValid;
}

bool valid_exponent(ByteView exponent) {
  static constexpr std::array<std::uint8_t, 1> kThree{0x03};
  static constexpr std::array<std::uint8_t, 3> kF4{0x01, 0x00, 0x01};
  return std::ranges::equal(exponent, kThree) || std::ranges::equal(exponent, kF4);
}

template <std::size_t N>
std::array<std::uint8_t, N> take(const Bytes& from, std::size_t offset) {
  std::array<std::uint8_t, N> out{};
  std::copy_n(from.begin() + static_cast<std::ptrdiff_t>(offset), N, out.begin());
  return out;
}

// The shared key-field logic of issuer and ICC certificates. `key_offset` is where the key
// field starts; the field runs up to the hash. Returns the full modulus or a reason.
struct KeyFieldCodes {
  OdaFailure bad_key_length;
  OdaFailure bad_exponent;
  OdaFailure bad_remainder;
};

OdaResult<Bytes> certified_modulus(const Bytes& recovered, std::size_t length_offset,
                                   std::size_t certifier_modulus_bytes, ByteView remainder,
                                   ByteView exponent, const KeyFieldCodes& codes) {
  const std::size_t key_bytes = recovered[length_offset];
  const std::size_t exponent_bytes = recovered[length_offset + 1];
  const std::size_t key_offset = length_offset + 2;
  const std::size_t field_bytes = recovered.size() - kHashAndTrailer - key_offset;
  // Book 2: the certified key is never longer than the certifier's.
  if (key_bytes == 0 || key_bytes > certifier_modulus_bytes) {
    return std::unexpected(codes.bad_key_length);
  }
  if (exponent_bytes != exponent.size() || !valid_exponent(exponent)) {
    return std::unexpected(codes.bad_exponent);
  }
  const ByteView field = ByteView(recovered).subspan(key_offset, field_bytes);
  Bytes modulus;
  if (key_bytes > field_bytes) {
    if (remainder.size() != key_bytes - field_bytes) {
      return std::unexpected(codes.bad_remainder);
    }
    modulus.assign(field.begin(), field.end());
    modulus.insert(modulus.end(), remainder.begin(), remainder.end());
  } else {
    // The key fits; the rest of the field is padding covered by the hash.
    modulus.assign(field.begin(), field.begin() + static_cast<std::ptrdiff_t>(key_bytes));
  }
  return modulus;
}

}  // namespace

std::string_view to_string(OdaFailure failure) {
  switch (failure) {
    case OdaFailure::kCaKeyUnknown: return "ca_key_unknown";
    case OdaFailure::kCaKeyExpired: return "ca_key_expired";
    case OdaFailure::kPanMalformed: return "pan_malformed";
    case OdaFailure::kIssuerCertBadLength: return "issuer_cert_bad_length";
    case OdaFailure::kIssuerCertNotRecoverable: return "issuer_cert_not_recoverable";
    case OdaFailure::kIssuerCertBadTrailer: return "issuer_cert_bad_trailer";
    case OdaFailure::kIssuerCertBadHeader: return "issuer_cert_bad_header";
    case OdaFailure::kIssuerCertBadFormat: return "issuer_cert_bad_format";
    case OdaFailure::kIssuerCertBadHashAlgorithm: return "issuer_cert_bad_hash_algorithm";
    case OdaFailure::kIssuerCertBadKeyLength: return "issuer_cert_bad_key_length";
    case OdaFailure::kIssuerCertBadExponent: return "issuer_cert_bad_exponent";
    case OdaFailure::kIssuerCertBadRemainder: return "issuer_cert_bad_remainder";
    case OdaFailure::kIssuerCertHashMismatch: return "issuer_cert_hash_mismatch";
    case OdaFailure::kIssuerCertPanMismatch: return "issuer_cert_pan_mismatch";
    case OdaFailure::kIssuerCertBadDate: return "issuer_cert_bad_date";
    case OdaFailure::kIssuerCertExpired: return "issuer_cert_expired";
    case OdaFailure::kIssuerCertBadKeyAlgorithm: return "issuer_cert_bad_key_algorithm";
    case OdaFailure::kIccCertBadLength: return "icc_cert_bad_length";
    case OdaFailure::kIccCertNotRecoverable: return "icc_cert_not_recoverable";
    case OdaFailure::kIccCertBadTrailer: return "icc_cert_bad_trailer";
    case OdaFailure::kIccCertBadHeader: return "icc_cert_bad_header";
    case OdaFailure::kIccCertBadFormat: return "icc_cert_bad_format";
    case OdaFailure::kIccCertBadHashAlgorithm: return "icc_cert_bad_hash_algorithm";
    case OdaFailure::kIccCertBadKeyLength: return "icc_cert_bad_key_length";
    case OdaFailure::kIccCertBadExponent: return "icc_cert_bad_exponent";
    case OdaFailure::kIccCertBadRemainder: return "icc_cert_bad_remainder";
    case OdaFailure::kIccCertHashMismatch: return "icc_cert_hash_mismatch";
    case OdaFailure::kIccCertPanMismatch: return "icc_cert_pan_mismatch";
    case OdaFailure::kIccCertBadDate: return "icc_cert_bad_date";
    case OdaFailure::kIccCertExpired: return "icc_cert_expired";
    case OdaFailure::kIccCertBadKeyAlgorithm: return "icc_cert_bad_key_algorithm";
    case OdaFailure::kSdadBadLength: return "sdad_bad_length";
    case OdaFailure::kSdadNotRecoverable: return "sdad_not_recoverable";
    case OdaFailure::kSdadBadTrailer: return "sdad_bad_trailer";
    case OdaFailure::kSdadBadHeader: return "sdad_bad_header";
    case OdaFailure::kSdadBadFormat: return "sdad_bad_format";
    case OdaFailure::kSdadBadHashAlgorithm: return "sdad_bad_hash_algorithm";
    case OdaFailure::kSdadBadDynamicData: return "sdad_bad_dynamic_data";
    case OdaFailure::kSdadHashMismatch: return "sdad_hash_mismatch";
    case OdaFailure::kSsadBadLength: return "ssad_bad_length";
    case OdaFailure::kSsadNotRecoverable: return "ssad_not_recoverable";
    case OdaFailure::kSsadBadTrailer: return "ssad_bad_trailer";
    case OdaFailure::kSsadBadHeader: return "ssad_bad_header";
    case OdaFailure::kSsadBadFormat: return "ssad_bad_format";
    case OdaFailure::kSsadBadHashAlgorithm: return "ssad_bad_hash_algorithm";
    case OdaFailure::kSsadHashMismatch: return "ssad_hash_mismatch";
    case OdaFailure::kIssuerCertRevoked: return "issuer_cert_revoked";
    case OdaFailure::kCdaBadDynamicData: return "cda_bad_dynamic_data";
    case OdaFailure::kCdaCidMismatch: return "cda_cid_mismatch";
    case OdaFailure::kCdaHashMismatch: return "cda_hash_mismatch";
    case OdaFailure::kDataMissing: return "data_missing";
    case OdaFailure::kNotSupported: return "not_supported";
  }
  return "oda_unknown_failure";
}

OdaResult<const CaPublicKey*> find_ca_key(const CaKeyTable& table, const Rid& rid,
                                          std::uint8_t ca_index, Date today) {
  const CaPublicKey* ca = table.find(rid, ca_index);
  if (ca == nullptr) return std::unexpected(OdaFailure::kCaKeyUnknown);
  if (ca->expiry && today > *ca->expiry) return std::unexpected(OdaFailure::kCaKeyExpired);
  return ca;
}

OdaResult<IssuerPublicKey> recover_issuer_public_key(const CaKeyTable& table, const Rid& rid,
                                                     std::uint8_t ca_index,
                                                     const IssuerCertificateData& data,
                                                     ByteView pan, Date today) {
  auto ca = find_ca_key(table, rid, ca_index, today);
  if (!ca) return std::unexpected(ca.error());
  auto issuer = recover_issuer_public_key(**ca, data, pan, today);
  // Only a certificate that recovered has a trustworthy serial number to look up.
  if (issuer && table.issuer_certificate_revoked(rid, ca_index, issuer->serial_number)) {
    return std::unexpected(OdaFailure::kIssuerCertRevoked);
  }
  return issuer;
}

OdaResult<CdaDynamicData> parse_cda_dynamic_data(ByteView data) {
  // ICC dynamic number length (1) || number (2..8) || CID (1) || AC (8) || hash code (20).
  if (data.empty()) return std::unexpected(OdaFailure::kCdaBadDynamicData);
  const std::size_t number_bytes = data[0];
  constexpr std::size_t kAfterNumber = 1 + 8 + kSha1Bytes;
  if (number_bytes < 2 || number_bytes > 8 || data.size() < 1 + number_bytes + kAfterNumber) {
    return std::unexpected(OdaFailure::kCdaBadDynamicData);
  }
  CdaDynamicData out;
  out.icc_dynamic_number.assign(data.begin() + 1,
                                data.begin() + 1 + static_cast<std::ptrdiff_t>(number_bytes));
  std::size_t at = 1 + number_bytes;
  out.cryptogram_information_data = data[at++];
  std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(at), 8,
              out.application_cryptogram.begin());
  at += 8;
  std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(at), kSha1Bytes,
              out.transaction_data_hash.begin());
  return out;
}

OdaResult<IssuerPublicKey> recover_issuer_public_key(const CaPublicKey& ca,
                                                     const IssuerCertificateData& data,
                                                     ByteView pan, Date today) {
  const auto card_pan = pan_digits(pan);
  if (!card_pan) return std::unexpected(OdaFailure::kPanMalformed);

  const RsaPublicKey ca_key{ca.modulus, ca.exponent};
  auto recovered = recover(ca_key, data.certificate, kIssuerStage);
  if (!recovered) return std::unexpected(recovered.error());
  const Bytes& r = *recovered;

  // Offsets of the recovered issuer certificate (Book 2, 5.3): 2 issuer identifier, 6 expiry, 8
  // serial, 11 hash algorithm, 12 key algorithm, 13 key length, 14 exponent length, 15 key field.
  auto modulus =
      certified_modulus(r, 13, ca.modulus.size(), data.remainder, data.exponent,
                        {OdaFailure::kIssuerCertBadKeyLength, OdaFailure::kIssuerCertBadExponent,
                         OdaFailure::kIssuerCertBadRemainder});
  if (!modulus) return std::unexpected(modulus.error());

  if (!hash_matches(r, sha1({signed_fields(r), data.remainder, data.exponent}))) {
    return std::unexpected(OdaFailure::kIssuerCertHashMismatch);
  }

  IssuerPublicKey issuer;
  issuer.issuer_identifier = take<4>(r, 2);
  issuer.expiry = take<2>(r, 6);
  issuer.serial_number = take<3>(r, 8);

  // Issuer identifier: the leftmost 3 to 8 PAN digits, padded with F.
  const auto identifier = padded_digits(issuer.issuer_identifier);
  if (!identifier || identifier->size() < 3 || !card_pan->starts_with(*identifier)) {
    return std::unexpected(OdaFailure::kIssuerCertPanMismatch);
  }
  switch (check_expiry(issuer.expiry, today)) {
    case ExpiryCheck::kBadDate: return std::unexpected(OdaFailure::kIssuerCertBadDate);
    case ExpiryCheck::kExpired: return std::unexpected(OdaFailure::kIssuerCertExpired);
    case ExpiryCheck::kValid: break;
  }
  if (r[12] != kKeyAlgorithmRsa) return std::unexpected(OdaFailure::kIssuerCertBadKeyAlgorithm);

  issuer.key.modulus = std::move(*modulus);
  issuer.key.exponent.assign(data.exponent.begin(), data.exponent.end());
  return issuer;
}

OdaResult<IccPublicKey> recover_icc_public_key(const IssuerPublicKey& issuer,
                                               const IccCertificateData& data, ByteView pan,
                                               ByteView static_data, Date today) {
  const auto card_pan = pan_digits(pan);
  if (!card_pan) return std::unexpected(OdaFailure::kPanMalformed);

  auto recovered = recover(issuer.key, data.certificate, kIccStage);
  if (!recovered) return std::unexpected(recovered.error());
  const Bytes& r = *recovered;

  // Offsets of the recovered ICC certificate (Book 2, 6.4): 2 PAN (10 bytes), 12 expiry, 14 serial,
  // 17 hash algorithm, 18 key algorithm, 19 key length, 20 exponent length, 21 key field.
  auto modulus =
      certified_modulus(r, 19, issuer.key.modulus.size(), data.remainder, data.exponent,
                        {OdaFailure::kIccCertBadKeyLength, OdaFailure::kIccCertBadExponent,
                         OdaFailure::kIccCertBadRemainder});
  if (!modulus) return std::unexpected(modulus.error());

  if (!hash_matches(r, sha1({signed_fields(r), data.remainder, data.exponent, static_data}))) {
    return std::unexpected(OdaFailure::kIccCertHashMismatch);
  }

  IccPublicKey icc;
  icc.pan = take<10>(r, 2);
  icc.expiry = take<2>(r, 12);
  icc.serial_number = take<3>(r, 14);

  const auto certified_pan = padded_digits(icc.pan);
  if (!certified_pan || *certified_pan != *card_pan) {
    return std::unexpected(OdaFailure::kIccCertPanMismatch);
  }
  switch (check_expiry(icc.expiry, today)) {
    case ExpiryCheck::kBadDate: return std::unexpected(OdaFailure::kIccCertBadDate);
    case ExpiryCheck::kExpired: return std::unexpected(OdaFailure::kIccCertExpired);
    case ExpiryCheck::kValid: break;
  }
  if (r[18] != kKeyAlgorithmRsa) return std::unexpected(OdaFailure::kIccCertBadKeyAlgorithm);

  icc.key.modulus = std::move(*modulus);
  icc.key.exponent.assign(data.exponent.begin(), data.exponent.end());
  return icc;
}

OdaResult<DynamicSignature> verify_signed_dynamic_data(const IccPublicKey& icc, ByteView sdad,
                                                       ByteView terminal_data) {
  auto recovered = recover(icc.key, sdad, kSdadStage);
  if (!recovered) return std::unexpected(recovered.error());
  const Bytes& r = *recovered;

  // Recovered SDAD (Book 2, 6.5.2): 3 ICC dynamic data length (Ldd), 4 ICC dynamic data, then pad.
  const std::size_t ldd = r[3];
  if (ldd > r.size() - kSdadFixedBytes) return std::unexpected(OdaFailure::kSdadBadDynamicData);

  if (!hash_matches(r, sha1({signed_fields(r), terminal_data}))) {
    return std::unexpected(OdaFailure::kSdadHashMismatch);
  }

  const ByteView dynamic_data = ByteView(r).subspan(4, ldd);
  // The ICC dynamic data starts with the ICC dynamic number: a length byte (2..8), the number.
  if (dynamic_data.empty()) return std::unexpected(OdaFailure::kSdadBadDynamicData);
  const std::size_t idn_bytes = dynamic_data[0];
  if (idn_bytes < 2 || idn_bytes > 8 || idn_bytes + 1 > dynamic_data.size()) {
    return std::unexpected(OdaFailure::kSdadBadDynamicData);
  }
  DynamicSignature out;
  out.icc_dynamic_data.assign(dynamic_data.begin(), dynamic_data.end());
  const ByteView idn = dynamic_data.subspan(1, idn_bytes);
  out.icc_dynamic_number.assign(idn.begin(), idn.end());
  return out;
}

OdaResult<StaticSignature> verify_signed_static_data(const IssuerPublicKey& issuer, ByteView ssad,
                                                     ByteView static_data) {
  auto recovered = recover(issuer.key, ssad, kSsadStage);
  if (!recovered) return std::unexpected(recovered.error());
  const Bytes& r = *recovered;

  if (!hash_matches(r, sha1({signed_fields(r), static_data}))) {
    return std::unexpected(OdaFailure::kSsadHashMismatch);
  }
  StaticSignature out;
  out.data_authentication_code = take<2>(r, 3);  // recovered SSAD (Book 2, 5.4)
  return out;
}

}  // namespace faregate::emv::oda
