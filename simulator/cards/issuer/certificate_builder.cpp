#include "simulator/cards/issuer/certificate_builder.h"

#include <algorithm>
#include <utility>

#include "firmware/emv/oda/sha1.h"

namespace faregate::sim::issuer {

namespace {

constexpr std::uint8_t kPad = 0xBB;  // Book 2 pad pattern

std::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Packs digits two per byte, then fills `size` bytes with F nibbles.
Bytes pack_digits(std::string_view digits, std::size_t size) {
  Bytes out(size, 0xFF);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    const auto d = static_cast<std::uint8_t>(digits[i] - '0');
    std::uint8_t& b = out[i / 2];
    b = (i % 2 == 0) ? static_cast<std::uint8_t>((d << 4) | (b & 0x0F))
                     : static_cast<std::uint8_t>((b & 0xF0) | d);
  }
  return out;
}

std::uint8_t bcd(unsigned value) {
  return static_cast<std::uint8_t>((value / 10) << 4 | value % 10);
}

void append(Bytes& out, ByteView part) { out.insert(out.end(), part.begin(), part.end()); }

// The part of `modulus` that fits in a field of `field_bytes` (padded with BB), and the rest.
std::pair<Bytes, Bytes> split_key(const Bytes& modulus, std::size_t field_bytes) {
  Bytes field(field_bytes, kPad);
  const std::size_t in_field = std::min(modulus.size(), field_bytes);
  std::copy_n(modulus.begin(), in_field, field.begin());
  Bytes remainder(modulus.begin() + static_cast<std::ptrdiff_t>(in_field), modulus.end());
  return {std::move(field), std::move(remainder)};
}

}  // namespace

Result<Bytes> encode_pan(std::string_view pan_digits) {
  if (pan_digits.size() < 8 || pan_digits.size() > 19 || !all_digits(pan_digits)) {
    return invalid("a PAN is 8..19 digits");
  }
  return pack_digits(pan_digits, (pan_digits.size() + 1) / 2);
}

Result<std::array<std::uint8_t, 10>> certificate_pan(std::string_view pan_digits) {
  auto packed = encode_pan(pan_digits);
  if (!packed) return std::unexpected(packed.error());
  std::array<std::uint8_t, 10> out{};
  const Bytes padded = pack_digits(pan_digits, out.size());
  std::copy(padded.begin(), padded.end(), out.begin());
  return out;
}

Result<std::array<std::uint8_t, 4>> issuer_identifier(std::string_view pan_digits,
                                                      std::size_t digits) {
  if (digits < 3 || digits > 8 || pan_digits.size() < digits || !all_digits(pan_digits)) {
    return invalid("an issuer identifier is the leftmost 3..8 digits of a PAN");
  }
  std::array<std::uint8_t, 4> out{};
  const Bytes packed = pack_digits(pan_digits.substr(0, digits), out.size());
  std::copy(packed.begin(), packed.end(), out.begin());
  return out;
}

Result<std::array<std::uint8_t, 2>> expiry_mmyy(unsigned month, int year) {
  if (month < 1 || month > 12 || year < 1950 || year > 2049) {
    return invalid("expiry month must be 1..12 and year 1950..2049");
  }
  return std::array<std::uint8_t, 2>{bcd(month), bcd(static_cast<unsigned>(year % 100))};
}

Result<Bytes> sign_with_recovery(const RsaKeyPair& key, ByteView signed_fields,
                                 ByteView hashed_only, crypto::Drbg& drbg) {
  constexpr std::size_t kFraming = 1 + emv::oda::kSha1Bytes + 1;  // 6A, hash, BC
  if (key.size() < kFraming || signed_fields.size() != key.size() - kFraming) {
    return invalid("signed fields must be " + std::to_string(key.size() - kFraming) +
                   " bytes for this key, not " + std::to_string(signed_fields.size()));
  }
  Bytes block;
  block.reserve(key.size());
  block.push_back(0x6A);
  append(block, signed_fields);
  const emv::oda::Sha1Digest hash = emv::oda::sha1({signed_fields, hashed_only});
  append(block, hash);
  block.push_back(0xBC);
  return key.private_operation(block, drbg);
}

Result<IssuerCertificate> build_issuer_certificate(const RsaKeyPair& ca,
                                                   const emv::oda::RsaPublicKey& issuer_key,
                                                   const IssuerCertificateFields& fields,
                                                   crypto::Drbg& drbg) {
  // Issuer certificate (Book 2, 5.3): 15 bytes before the key field, hash and trailer after it.
  if (issuer_key.modulus.empty() || issuer_key.modulus.size() > ca.size() || ca.size() < 37) {
    return invalid("the issuer key must not be longer than the CA key");
  }
  auto [field, remainder] = split_key(issuer_key.modulus, ca.size() - 36);
  Bytes fields_bytes;
  fields_bytes.push_back(0x02);  // issuer public key certificate
  append(fields_bytes, fields.issuer_identifier);
  append(fields_bytes, fields.expiry);
  append(fields_bytes, fields.serial_number);
  fields_bytes.push_back(0x01);  // hash algorithm: SHA-1
  fields_bytes.push_back(0x01);  // public key algorithm: RSA
  fields_bytes.push_back(static_cast<std::uint8_t>(issuer_key.modulus.size()));
  fields_bytes.push_back(static_cast<std::uint8_t>(issuer_key.exponent.size()));
  append(fields_bytes, field);

  Bytes hashed_only = remainder;
  append(hashed_only, issuer_key.exponent);
  auto certificate = sign_with_recovery(ca, fields_bytes, hashed_only, drbg);
  if (!certificate) return std::unexpected(certificate.error());
  return IssuerCertificate{std::move(*certificate), std::move(remainder), issuer_key.exponent};
}

Result<IccCertificate> build_icc_certificate(const RsaKeyPair& issuer,
                                             const emv::oda::RsaPublicKey& icc_key,
                                             const IccCertificateFields& fields,
                                             ByteView static_data, crypto::Drbg& drbg) {
  // ICC certificate (Book 2, 6.4): 21 bytes before the key field, hash and trailer after it.
  if (icc_key.modulus.empty() || icc_key.modulus.size() > issuer.size() || issuer.size() < 43) {
    return invalid("the ICC key must not be longer than the issuer key");
  }
  auto [field, remainder] = split_key(icc_key.modulus, issuer.size() - 42);
  Bytes fields_bytes;
  fields_bytes.push_back(0x04);  // ICC public key certificate
  append(fields_bytes, fields.pan);
  append(fields_bytes, fields.expiry);
  append(fields_bytes, fields.serial_number);
  fields_bytes.push_back(0x01);
  fields_bytes.push_back(0x01);
  fields_bytes.push_back(static_cast<std::uint8_t>(icc_key.modulus.size()));
  fields_bytes.push_back(static_cast<std::uint8_t>(icc_key.exponent.size()));
  append(fields_bytes, field);

  Bytes hashed_only = remainder;
  append(hashed_only, icc_key.exponent);
  append(hashed_only, static_data);
  auto certificate = sign_with_recovery(issuer, fields_bytes, hashed_only, drbg);
  if (!certificate) return std::unexpected(certificate.error());
  return IccCertificate{std::move(*certificate), std::move(remainder), icc_key.exponent};
}

Result<Bytes> sign_static_data(const RsaKeyPair& issuer,
                               const std::array<std::uint8_t, 2>& data_authentication_code,
                               ByteView static_data, crypto::Drbg& drbg) {
  // SSAD (Book 2, 5.4): format 03, hash algorithm, data authentication code, pad.
  if (issuer.size() < 26) return invalid("issuer key too short for SSAD");
  Bytes fields_bytes{0x03, 0x01};
  append(fields_bytes, data_authentication_code);
  fields_bytes.resize(issuer.size() - 22, kPad);
  return sign_with_recovery(issuer, fields_bytes, static_data, drbg);
}

Result<Bytes> icc_dynamic_data(ByteView icc_dynamic_number) {
  if (icc_dynamic_number.size() < 2 || icc_dynamic_number.size() > 8) {
    return invalid("an ICC dynamic number is 2..8 bytes");
  }
  Bytes out{static_cast<std::uint8_t>(icc_dynamic_number.size())};
  append(out, icc_dynamic_number);
  return out;
}

Result<Bytes> sign_dynamic_data(const RsaKeyPair& icc, ByteView dynamic_data,
                                ByteView terminal_data, crypto::Drbg& drbg) {
  // SDAD (Book 2, 6.5.2): format 05, hash algorithm, Ldd, dynamic data, pad.
  if (icc.size() < 25 || dynamic_data.size() > icc.size() - 25) {
    return invalid("ICC dynamic data does not fit this ICC key");
  }
  Bytes fields_bytes{0x05, 0x01, static_cast<std::uint8_t>(dynamic_data.size())};
  append(fields_bytes, dynamic_data);
  fields_bytes.resize(icc.size() - 22, kPad);
  return sign_with_recovery(icc, fields_bytes, terminal_data, drbg);
}

emv::oda::CaPublicKey ca_public_key(const RsaKeyPair& ca, const emv::oda::Rid& rid,
                                    std::uint8_t index,
                                    std::optional<std::chrono::year_month_day> expiry,
                                    std::string source) {
  emv::oda::CaPublicKey key;
  key.rid = rid;
  key.index = index;
  key.modulus = ca.public_key().modulus;
  key.exponent = ca.public_key().exponent;
  key.checksum = emv::oda::ca_key_checksum(rid, index, key.modulus, key.exponent);
  key.expiry = expiry;
  key.source = std::move(source);
  return key;
}

Result<TestCertificateAuthority> generate_test_ca(const emv::oda::Rid& rid, std::uint8_t index,
                                                  unsigned bits, std::uint64_t seed) {
  auto drbg = crypto::Drbg::deterministic(seed);
  auto key = RsaKeyPair::generate(drbg, bits, 3);
  if (!key) return std::unexpected(key.error());
  emv::oda::CaPublicKey public_key =
      ca_public_key(*key, rid, index, std::nullopt,
                    "Faregate simulator test CA, generated at run time from seed " +
                        std::to_string(seed) + " (not a production key)");
  return TestCertificateAuthority{std::move(*key), std::move(public_key)};
}

}  // namespace faregate::sim::issuer
