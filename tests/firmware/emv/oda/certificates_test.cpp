// Offline data authentication, end to end: the simulator's signing code (simulator/cards/issuer)
// builds certificates and signatures, the firmware's verifier (firmware/emv/oda) checks them.
// Every way a card can fail has its own reason code; each test names the one it expects.

#include "firmware/emv/oda/certificates.h"

#include <catch2/catch.hpp>
#include <set>
#include <stdexcept>

#include "simulator/cards/issuer/certificate_builder.h"

using faregate::Bytes;
using faregate::ByteView;
using faregate::from_hex;
namespace crypto = faregate::crypto;
namespace oda = faregate::emv::oda;
namespace sim = faregate::sim::issuer;
using oda::OdaFailure;

namespace {

constexpr oda::Rid kRid{0xA0, 0x00, 0x00, 0x00, 0x03};
constexpr std::uint8_t kCaIndex = 0xF5;
constexpr std::string_view kPan = "4761739001010010";
constexpr oda::Date kToday{std::chrono::year(2026), std::chrono::November, std::chrono::day(28)};

// Test data typed in this file; a typo is a programmer error, so it throws (also during static
// initialisation, where Catch2's REQUIRE cannot run).
Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  if (!bytes) throw std::invalid_argument("bad hex in test data: " + std::string(text));
  return *bytes;
}

template <typename T>
T must(faregate::Result<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(*result);
}

// Keys are generated once per test program from fixed seeds (RSA generation is the slow part).
// Sizes respect Book 2's layout: issuer key no longer than the CA key, ICC key no longer than
// the issuer key; the large ones need remainders, the small ones fit in their certificates.
struct Keys {
  sim::TestCertificateAuthority ca;
  sim::RsaKeyPair issuer;        // 1024 bits under a 1152-bit CA: needs a 20-byte remainder
  sim::RsaKeyPair small_issuer;  // 864 bits: just fits in the issuer certificate
  sim::RsaKeyPair icc;           // 768 bits, exponent 65537: needs a 10-byte remainder
  sim::RsaKeyPair small_icc;     // 512 bits: fits in the small issuer's ICC certificate
};

const Keys& keys() {
  static const Keys k = [] {
    auto drbg = crypto::Drbg::deterministic(2026);
    return Keys{must(sim::generate_test_ca(kRid, kCaIndex, 1152, 42)),
                must(sim::RsaKeyPair::generate(drbg, 1024, 3)),
                must(sim::RsaKeyPair::generate(drbg, 864, 3)),
                must(sim::RsaKeyPair::generate(drbg, 768, 65537)),
                must(sim::RsaKeyPair::generate(drbg, 512, 3))};
  }();
  return k;
}

oda::CaKeyTable ca_table() {
  oda::CaKeyTable table;
  auto added = table.add(keys().ca.public_key);
  REQUIRE(added);
  return table;
}

// Static data to be authenticated: a record template as a kernel would assemble it (PAN,
// expiry, ...) followed by the AIP from the SDA tag list.
const Bytes kStaticData =
    hex("5A0847617390010100105F24032812315F25032401015F3401019F0702FF00"
        "3900");
// fDDA terminal data: unpredictable number 9F37, amount 9F02, currency 5F2A, card
// authentication related data 9F69.
const Bytes kUnpredictableNumber = hex("1A2B3C4D");
const Bytes kFddaTail =
    hex("000000000250"
        "0978"
        "01A1B2C3D4E5F60000");
const Bytes kIccDynamicNumber = hex("0102030405060708");

Bytes terminal_data(ByteView unpredictable_number) {
  Bytes out(unpredictable_number.begin(), unpredictable_number.end());
  out.insert(out.end(), kFddaTail.begin(), kFddaTail.end());
  return out;
}

// What a card carries for ODA, built by the simulator's issuer code.
struct Card {
  Bytes pan;
  sim::IssuerCertificate issuer_cert;
  sim::IccCertificate icc_cert;
  Bytes sdad;
  Bytes ssad;
  const sim::RsaKeyPair* issuer_key = nullptr;
  const sim::RsaKeyPair* icc_key = nullptr;

  oda::IssuerCertificateData issuer_data() const {
    return {issuer_cert.certificate, issuer_cert.remainder, issuer_cert.exponent};
  }
  oda::IccCertificateData icc_data() const {
    return {icc_cert.certificate, icc_cert.remainder, icc_cert.exponent};
  }
};

struct CardOptions {
  std::string_view issuer_pan = kPan;  // the PAN the issuer certificate is made for
  std::string_view icc_pan = kPan;     // the PAN the ICC certificate is made for
  std::string_view card_pan = kPan;    // the PAN the card presents in 5A
  std::array<std::uint8_t, 2> issuer_expiry{0x12, 0x30};
  std::array<std::uint8_t, 2> icc_expiry{0x12, 0x28};
  bool small_keys = false;
  Bytes signed_unpredictable_number = kUnpredictableNumber;
};

Card make_card(const CardOptions& options = {}) {
  auto drbg = crypto::Drbg::deterministic(7);
  Card card;
  card.issuer_key = options.small_keys ? &keys().small_issuer : &keys().issuer;
  card.icc_key = options.small_keys ? &keys().small_icc : &keys().icc;
  card.pan = must(sim::encode_pan(options.card_pan));

  sim::IssuerCertificateFields issuer_fields;
  issuer_fields.issuer_identifier = must(sim::issuer_identifier(options.issuer_pan, 6));
  issuer_fields.expiry = options.issuer_expiry;
  card.issuer_cert = must(sim::build_issuer_certificate(
      keys().ca.key, card.issuer_key->public_key(), issuer_fields, drbg));

  sim::IccCertificateFields icc_fields;
  icc_fields.pan = must(sim::certificate_pan(options.icc_pan));
  icc_fields.expiry = options.icc_expiry;
  card.icc_cert = must(sim::build_icc_certificate(*card.issuer_key, card.icc_key->public_key(),
                                                  icc_fields, kStaticData, drbg));

  const Bytes dynamic_data = must(sim::icc_dynamic_data(kIccDynamicNumber));
  card.sdad = must(sim::sign_dynamic_data(
      *card.icc_key, dynamic_data, terminal_data(options.signed_unpredictable_number), drbg));
  card.ssad = must(sim::sign_static_data(*card.issuer_key, {0xDA, 0xC1}, kStaticData, drbg));
  return card;
}

// The whole fDDA chain as a kernel runs it; the first failure, or the ICC dynamic number.
oda::OdaResult<Bytes> run_fdda(const Card& card,
                               ByteView unpredictable_number = kUnpredictableNumber,
                               ByteView static_data = kStaticData, oda::Date today = kToday,
                               std::uint8_t ca_index = kCaIndex) {
  const oda::CaKeyTable table = ca_table();
  auto issuer =
      oda::recover_issuer_public_key(table, kRid, ca_index, card.issuer_data(), card.pan, today);
  if (!issuer) return std::unexpected(issuer.error());
  auto icc = oda::recover_icc_public_key(*issuer, card.icc_data(), card.pan, static_data, today);
  if (!icc) return std::unexpected(icc.error());
  auto dynamic =
      oda::verify_signed_dynamic_data(*icc, card.sdad, terminal_data(unpredictable_number));
  if (!dynamic) return std::unexpected(dynamic.error());
  return dynamic->icc_dynamic_number;
}

oda::OdaResult<std::array<std::uint8_t, 2>> run_sda(const Card& card,
                                                    ByteView static_data = kStaticData) {
  const oda::CaKeyTable table = ca_table();
  auto issuer =
      oda::recover_issuer_public_key(table, kRid, kCaIndex, card.issuer_data(), card.pan, kToday);
  if (!issuer) return std::unexpected(issuer.error());
  auto ssad = oda::verify_signed_static_data(*issuer, card.ssad, static_data);
  if (!ssad) return std::unexpected(ssad.error());
  return ssad->data_authentication_code;
}

std::string reason(const auto& result) {
  return result ? std::string("ok") : std::string(oda::to_string(result.error()));
}

// The issuer key the verifier recovers for a card, for tests of the later stages.
oda::IssuerPublicKey recovered_issuer(const Card& card) {
  auto issuer =
      oda::recover_issuer_public_key(keys().ca.public_key, card.issuer_data(), card.pan, kToday);
  REQUIRE(issuer);
  return *issuer;
}

oda::IccPublicKey recovered_icc(const Card& card) {
  auto icc = oda::recover_icc_public_key(recovered_issuer(card), card.icc_data(), card.pan,
                                         kStaticData, kToday);
  REQUIRE(icc);
  return *icc;
}

// An issuer certificate with hand-made fields, signed by the test CA, for the checks the
// honest builder cannot be made to fail.
Bytes crafted_issuer_certificate(std::uint8_t format, std::uint8_t hash_algorithm,
                                 std::uint8_t key_algorithm, std::size_t claimed_key_bytes,
                                 std::array<std::uint8_t, 2> expiry, const Card& card) {
  const auto& ca = keys().ca.key;
  const auto& modulus = card.issuer_key->public_key().modulus;
  Bytes fields{format};
  const auto identifier = must(sim::issuer_identifier(kPan, 6));
  fields.insert(fields.end(), identifier.begin(), identifier.end());
  fields.insert(fields.end(), expiry.begin(), expiry.end());
  fields.insert(fields.end(), {0x00, 0x00, 0x01, hash_algorithm, key_algorithm,
                               static_cast<std::uint8_t>(claimed_key_bytes), 0x01});
  fields.insert(fields.end(), modulus.begin(),
                modulus.begin() + static_cast<std::ptrdiff_t>(ca.size() - 36));
  Bytes hashed = card.issuer_cert.remainder;
  hashed.push_back(0x03);
  auto drbg = crypto::Drbg::deterministic(11);
  return must(sim::sign_with_recovery(ca, fields, hashed, drbg));
}

// A block with arbitrary framing, signed with `key`'s private operation.
Bytes raw_block(const sim::RsaKeyPair& key, std::uint8_t header, std::uint8_t trailer) {
  Bytes block(key.size(), 0xBB);
  block.front() = header;
  block[1] = 0x02;
  block.back() = trailer;
  auto drbg = crypto::Drbg::deterministic(12);
  return must(key.private_operation(block, drbg));
}

}  // namespace

TEST_CASE("an fDDA card built by the simulator passes and yields its ICC dynamic number") {
  const Card card = make_card();
  // The large keys exercise both remainders.
  CHECK(card.issuer_cert.remainder.size() == 128 - (144 - 36));
  CHECK(card.icc_cert.remainder.size() == 96 - (128 - 42));
  CHECK(card.icc_cert.exponent == Bytes{0x01, 0x00, 0x01});

  auto idn = run_fdda(card);
  INFO(reason(idn));
  REQUIRE(idn);
  CHECK(*idn == kIccDynamicNumber);

  const auto icc = recovered_icc(card);
  CHECK(icc.key.modulus == keys().icc.public_key().modulus);
  CHECK(icc.key.exponent == keys().icc.public_key().exponent);
  const auto issuer = recovered_issuer(card);
  CHECK(issuer.key.modulus == keys().issuer.public_key().modulus);
  CHECK(issuer.issuer_identifier == std::array<std::uint8_t, 4>{0x47, 0x61, 0x73, 0xFF});
  CHECK(issuer.expiry == std::array<std::uint8_t, 2>{0x12, 0x30});
}

TEST_CASE("an fDDA card whose keys fit in their certificates passes") {
  CardOptions options;
  options.small_keys = true;
  const Card card = make_card(options);
  CHECK(card.issuer_cert.remainder.empty());
  CHECK(card.icc_cert.remainder.empty());
  auto idn = run_fdda(card);
  INFO(reason(idn));
  REQUIRE(idn);
  CHECK(*idn == kIccDynamicNumber);
}

TEST_CASE("an SDA card built by the simulator passes and yields its data authentication code") {
  auto dac = run_sda(make_card());
  INFO(reason(dac));
  REQUIRE(dac);
  CHECK(*dac == std::array<std::uint8_t, 2>{0xDA, 0xC1});
}

TEST_CASE("an unknown CA index or RID fails with ca_key_unknown") {
  const Card card = make_card();
  CHECK(reason(run_fdda(card, kUnpredictableNumber, kStaticData, kToday, 0xF6)) ==
        "ca_key_unknown");
  const oda::CaKeyTable table = ca_table();
  const oda::Rid mastercard{0xA0, 0x00, 0x00, 0x00, 0x04};
  CHECK(reason(oda::recover_issuer_public_key(table, mastercard, kCaIndex, card.issuer_data(),
                                              card.pan, kToday)) == "ca_key_unknown");
}

TEST_CASE("a CA key past its expiry in the table fails with ca_key_expired") {
  const Card card = make_card();
  oda::CaKeyTable table;
  auto ca = keys().ca.public_key;
  ca.expiry = oda::Date{std::chrono::year(2026), std::chrono::November, std::chrono::day(27)};
  REQUIRE(table.add(ca));
  CHECK(reason(oda::recover_issuer_public_key(table, kRid, kCaIndex, card.issuer_data(), card.pan,
                                              kToday)) == "ca_key_expired");
  const oda::Date expiry_day{std::chrono::year(2026), std::chrono::November, std::chrono::day(27)};
  CHECK(reason(oda::recover_issuer_public_key(table, kRid, kCaIndex, card.issuer_data(), card.pan,
                                              expiry_day)) == "ok");
}

TEST_CASE("changing any byte of the issuer certificate fails with an issuer_cert reason") {
  const Card card = make_card();
  for (std::size_t i = 0; i < card.issuer_cert.certificate.size(); ++i) {
    Card tampered = card;
    tampered.issuer_cert.certificate[i] ^= 0x01;
    const std::string r = reason(run_fdda(tampered));
    INFO("byte " << i << ": " << r);
    CHECK(r.starts_with("issuer_cert_"));
  }
}

TEST_CASE("a changed issuer key remainder or exponent fails with its own reason") {
  const Card card = make_card();
  Card remainder = card;
  remainder.issuer_cert.remainder[5] ^= 0x40;
  CHECK(reason(run_fdda(remainder)) == "issuer_cert_hash_mismatch");

  Card missing = card;
  missing.issuer_cert.remainder.clear();
  CHECK(reason(run_fdda(missing)) == "issuer_cert_bad_remainder");

  Card short_remainder = card;
  short_remainder.issuer_cert.remainder.pop_back();
  CHECK(reason(run_fdda(short_remainder)) == "issuer_cert_bad_remainder");

  Card exponent = card;
  exponent.issuer_cert.exponent = Bytes{0x01, 0x00, 0x01};
  CHECK(reason(run_fdda(exponent)) == "issuer_cert_bad_exponent");
}

TEST_CASE("an issuer certificate of the wrong length fails with issuer_cert_bad_length") {
  Card card = make_card();
  card.issuer_cert.certificate.pop_back();
  CHECK(reason(run_fdda(card)) == "issuer_cert_bad_length");
  card.issuer_cert.certificate.clear();
  CHECK(reason(run_fdda(card)) == "issuer_cert_bad_length");
}

TEST_CASE("an issuer certificate not below the CA modulus fails with issuer_cert_not_recoverable") {
  Card card = make_card();
  card.issuer_cert.certificate.assign(card.issuer_cert.certificate.size(), 0xFF);
  CHECK(reason(run_fdda(card)) == "issuer_cert_not_recoverable");
}

TEST_CASE("an expired issuer certificate fails with issuer_cert_expired") {
  CardOptions options;
  options.issuer_expiry = {0x10, 0x26};  // October 2026, transaction in November 2026
  CHECK(reason(run_fdda(make_card(options))) == "issuer_cert_expired");

  // Valid through the last day of its month, and not a day longer.
  options.issuer_expiry = {0x02, 0x28};
  const Card card = make_card(options);
  const oda::Date leap_day{std::chrono::year(2028), std::chrono::February, std::chrono::day(29)};
  const oda::Date next_day{std::chrono::year(2028), std::chrono::March, std::chrono::day(1)};
  CHECK(reason(oda::recover_issuer_public_key(keys().ca.public_key, card.issuer_data(), card.pan,
                                              leap_day)) == "ok");
  CHECK(reason(oda::recover_issuer_public_key(keys().ca.public_key, card.issuer_data(), card.pan,
                                              next_day)) == "issuer_cert_expired");
}

TEST_CASE("an issuer certificate for another issuer fails with issuer_cert_pan_mismatch") {
  CardOptions options;
  options.card_pan = "5413330089010020";  // the card is not from the certified issuer
  options.icc_pan = options.card_pan;
  CHECK(reason(run_fdda(make_card(options))) == "issuer_cert_pan_mismatch");
}

TEST_CASE("issuer certificate fields the honest builder never writes fail with their reasons") {
  const Card card = make_card();
  auto check = [&](const Bytes& certificate, std::string_view expected) {
    Card crafted = card;
    crafted.issuer_cert.certificate = certificate;
    CHECK(reason(run_fdda(crafted)) == expected);
  };
  const std::array<std::uint8_t, 2> expiry{0x12, 0x30};
  // Sanity: the crafting helper itself makes a good certificate.
  check(crafted_issuer_certificate(0x02, 0x01, 0x01, 128, expiry, card), "ok");
  check(crafted_issuer_certificate(0x04, 0x01, 0x01, 128, expiry, card), "issuer_cert_bad_format");
  check(crafted_issuer_certificate(0x02, 0x02, 0x01, 128, expiry, card),
        "issuer_cert_bad_hash_algorithm");
  check(crafted_issuer_certificate(0x02, 0x01, 0x02, 128, expiry, card),
        "issuer_cert_bad_key_algorithm");
  check(crafted_issuer_certificate(0x02, 0x01, 0x01, 145, expiry, card),
        "issuer_cert_bad_key_length");
  check(crafted_issuer_certificate(0x02, 0x01, 0x01, 0, expiry, card),
        "issuer_cert_bad_key_length");
  check(crafted_issuer_certificate(0x02, 0x01, 0x01, 128, {0x13, 0x30}, card),
        "issuer_cert_bad_date");
  check(crafted_issuer_certificate(0x02, 0x01, 0x01, 128, {0x12, 0x3A}, card),
        "issuer_cert_bad_date");
  check(raw_block(keys().ca.key, 0x6A, 0xBB), "issuer_cert_bad_trailer");
  check(raw_block(keys().ca.key, 0x6B, 0xBC), "issuer_cert_bad_header");
}

TEST_CASE("changing any byte of the ICC certificate fails with an icc_cert reason") {
  const Card card = make_card();
  for (std::size_t i = 0; i < card.icc_cert.certificate.size(); ++i) {
    Card tampered = card;
    tampered.icc_cert.certificate[i] ^= 0x80;
    const std::string r = reason(run_fdda(tampered));
    INFO("byte " << i << ": " << r);
    CHECK(r.starts_with("icc_cert_"));
  }
}

TEST_CASE(
    "altered static data fails with icc_cert_hash_mismatch (fDDA) and ssad_hash_mismatch "
    "(SDA)") {
  const Card card = make_card();
  Bytes altered = kStaticData;
  altered[10] ^= 0x01;  // one bit of the PAN record
  CHECK(reason(run_fdda(card, kUnpredictableNumber, altered)) == "icc_cert_hash_mismatch");
  CHECK(reason(run_sda(card, altered)) == "ssad_hash_mismatch");
  Bytes truncated(kStaticData.begin(), kStaticData.end() - 2);  // AIP left out
  CHECK(reason(run_fdda(card, kUnpredictableNumber, truncated)) == "icc_cert_hash_mismatch");
}

TEST_CASE(
    "an ICC certificate for another card of the same issuer fails with "
    "icc_cert_pan_mismatch") {
  CardOptions options;
  options.icc_pan = "4761739001010028";  // same issuer identifier, another card
  CHECK(reason(run_fdda(make_card(options))) == "icc_cert_pan_mismatch");
}

TEST_CASE("an expired ICC certificate fails with icc_cert_expired") {
  CardOptions options;
  options.icc_expiry = {0x01, 0x25};
  CHECK(reason(run_fdda(make_card(options))) == "icc_cert_expired");
}

TEST_CASE("a changed ICC key remainder or exponent fails with its own reason") {
  const Card card = make_card();
  Card remainder = card;
  remainder.icc_cert.remainder[0] ^= 0x01;
  CHECK(reason(run_fdda(remainder)) == "icc_cert_hash_mismatch");
  Card missing = card;
  missing.icc_cert.remainder.clear();
  CHECK(reason(run_fdda(missing)) == "icc_cert_bad_remainder");
  Card exponent = card;
  exponent.icc_cert.exponent = Bytes{0x03};
  CHECK(reason(run_fdda(exponent)) == "icc_cert_bad_exponent");
  Card length = card;
  length.icc_cert.certificate.push_back(0x00);
  CHECK(reason(run_fdda(length)) == "icc_cert_bad_length");
}

TEST_CASE("an ICC certificate in another format fails with icc_cert_bad_format") {
  const Card card = make_card();
  // A well-signed issuer block with format 02 presented as an ICC certificate.
  Card crafted = card;
  Bytes fields(card.issuer_key->size() - 22, 0xBB);
  fields[0] = 0x02;
  auto drbg = crypto::Drbg::deterministic(13);
  crafted.icc_cert.certificate = must(sim::sign_with_recovery(*card.issuer_key, fields, {}, drbg));
  CHECK(reason(run_fdda(crafted)) == "icc_cert_bad_format");
  // The SSAD is signed by the issuer too, but is not an ICC certificate.
  crafted.icc_cert.certificate = card.ssad;
  CHECK(reason(run_fdda(crafted)) == "icc_cert_bad_format");
}

TEST_CASE("a wrong unpredictable number fails with sdad_hash_mismatch") {
  const Card card = make_card();
  CHECK(reason(run_fdda(card, hex("1A2B3C4E"))) == "sdad_hash_mismatch");
  // A replayed SDAD, signed for another transaction, fails the same way.
  CardOptions options;
  options.signed_unpredictable_number = hex("00000000");
  CHECK(reason(run_fdda(make_card(options))) == "sdad_hash_mismatch");
}

TEST_CASE("changing any byte of the SDAD fails with an sdad reason") {
  const Card card = make_card();
  const auto icc = recovered_icc(card);
  for (std::size_t i = 0; i < card.sdad.size(); ++i) {
    Bytes tampered = card.sdad;
    tampered[i] ^= 0x01;
    const std::string r =
        reason(oda::verify_signed_dynamic_data(icc, tampered, terminal_data(kUnpredictableNumber)));
    INFO("byte " << i << ": " << r);
    CHECK(r.starts_with("sdad_"));
  }
  Bytes truncated(card.sdad.begin(), card.sdad.end() - 1);
  CHECK(reason(oda::verify_signed_dynamic_data(
            icc, truncated, terminal_data(kUnpredictableNumber))) == "sdad_bad_length");
}

TEST_CASE("malformed signed dynamic data fails with its own reason") {
  const Card card = make_card();
  const auto icc = recovered_icc(card);
  const Bytes data = terminal_data(kUnpredictableNumber);
  const auto& key = *card.icc_key;
  auto drbg = crypto::Drbg::deterministic(14);
  auto signed_block = [&](Bytes fields) {
    fields.resize(key.size() - 22, 0xBB);
    return must(sim::sign_with_recovery(key, fields, data, drbg));
  };
  auto verify = [&](const Bytes& sdad) {
    return reason(oda::verify_signed_dynamic_data(icc, sdad, data));
  };
  CHECK(verify(signed_block({0x05, 0x01, 0x03, 0x02, 0xAB, 0xCD})) == "ok");
  CHECK(verify(signed_block({0x03, 0x01, 0x03, 0x02, 0xAB, 0xCD})) == "sdad_bad_format");
  CHECK(verify(signed_block({0x05, 0x02, 0x03, 0x02, 0xAB, 0xCD})) == "sdad_bad_hash_algorithm");
  // Ldd larger than the block allows.
  CHECK(verify(signed_block({0x05, 0x01, static_cast<std::uint8_t>(key.size() - 24)})) ==
        "sdad_bad_dynamic_data");
  // ICC dynamic number length 9 (max 8), 1 (min 2), longer than the dynamic data, and none.
  CHECK(verify(signed_block({0x05, 0x01, 0x0A, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9})) ==
        "sdad_bad_dynamic_data");
  CHECK(verify(signed_block({0x05, 0x01, 0x02, 0x01, 0xAB})) == "sdad_bad_dynamic_data");
  CHECK(verify(signed_block({0x05, 0x01, 0x03, 0x04, 0xAB, 0xCD})) == "sdad_bad_dynamic_data");
  CHECK(verify(signed_block({0x05, 0x01, 0x00})) == "sdad_bad_dynamic_data");
  CHECK(verify(raw_block(key, 0x6A, 0xBA)) == "sdad_bad_trailer");
  CHECK(verify(raw_block(key, 0x00, 0xBC)) == "sdad_bad_header");
  CHECK(verify(Bytes(key.size(), 0xFF)) == "sdad_not_recoverable");
}

TEST_CASE("malformed signed static data fails with its own reason") {
  const Card card = make_card();
  const auto issuer = recovered_issuer(card);
  const auto& key = *card.issuer_key;
  auto verify = [&](const Bytes& ssad) {
    return reason(oda::verify_signed_static_data(issuer, ssad, kStaticData));
  };
  auto drbg = crypto::Drbg::deterministic(15);
  auto signed_block = [&](Bytes fields) {
    fields.resize(key.size() - 22, 0xBB);
    return must(sim::sign_with_recovery(key, fields, kStaticData, drbg));
  };
  CHECK(verify(signed_block({0x03, 0x01, 0x12, 0x34})) == "ok");
  CHECK(verify(signed_block({0x05, 0x01, 0x12, 0x34})) == "ssad_bad_format");
  CHECK(verify(signed_block({0x03, 0x00, 0x12, 0x34})) == "ssad_bad_hash_algorithm");
  CHECK(verify(raw_block(key, 0x6A, 0x00)) == "ssad_bad_trailer");
  CHECK(verify(raw_block(key, 0x4A, 0xBC)) == "ssad_bad_header");
  CHECK(verify(Bytes(key.size() + 1, 0x01)) == "ssad_bad_length");
  CHECK(verify(Bytes(key.size(), 0xFF)) == "ssad_not_recoverable");
  for (std::size_t i = 0; i < card.ssad.size(); ++i) {
    Bytes tampered = card.ssad;
    tampered[i] ^= 0x02;
    INFO("byte " << i);
    CHECK(verify(tampered).starts_with("ssad_"));
  }
}

TEST_CASE("a malformed PAN fails with pan_malformed before any RSA work") {
  const Card card = make_card();
  for (const Bytes& pan : {Bytes{}, hex("4761739F01010010"), hex("476173"),
                           hex("4761739001010010FFFFFFFF"), hex("47617390010100A0")}) {
    INFO(faregate::to_hex(pan));
    CHECK(reason(oda::recover_issuer_public_key(keys().ca.public_key, card.issuer_data(), pan,
                                                kToday)) == "pan_malformed");
    CHECK(reason(oda::recover_icc_public_key(recovered_issuer(card), card.icc_data(), pan,
                                             kStaticData, kToday)) == "pan_malformed");
  }
  // An odd number of digits padded with F is well formed.
  Card odd = make_card({.issuer_pan = "476173900101001",
                        .icc_pan = "476173900101001",
                        .card_pan = "476173900101001"});
  CHECK(odd.pan == hex("476173900101001F"));
  CHECK(reason(run_fdda(odd)) == "ok");
}

TEST_CASE("random bytes in every card field fail cleanly") {
  const Card card = make_card();
  const auto issuer = recovered_issuer(card);
  const auto icc = recovered_icc(card);
  auto drbg = crypto::Drbg::deterministic(99);
  for (int round = 0; round < 200; ++round) {
    const std::size_t length = static_cast<std::size_t>(drbg.uniform(300));
    const Bytes noise = must(drbg.bytes(length));
    const Bytes block = must(drbg.bytes(keys().ca.key.size()));
    CHECK_FALSE(oda::recover_issuer_public_key(keys().ca.public_key, {noise, noise, noise},
                                               card.pan, kToday));
    CHECK_FALSE(oda::recover_issuer_public_key(
        keys().ca.public_key, {block, noise, card.issuer_cert.exponent}, card.pan, kToday));
    CHECK_FALSE(
        oda::recover_icc_public_key(issuer, {noise, noise, noise}, card.pan, noise, kToday));
    CHECK_FALSE(oda::verify_signed_dynamic_data(icc, noise, noise));
    CHECK_FALSE(oda::verify_signed_static_data(issuer, noise, noise));
    CHECK_FALSE(
        oda::recover_issuer_public_key(keys().ca.public_key, card.issuer_data(), noise, kToday));
  }
}

TEST_CASE("every failure has its own reason string") {
  std::set<std::string_view> seen;
  const auto last = static_cast<int>(OdaFailure::kSsadHashMismatch);
  for (int i = 0; i <= last; ++i) {
    const std::string_view s = oda::to_string(static_cast<OdaFailure>(i));
    INFO(i << " " << s);
    CHECK_FALSE(s.empty());
    CHECK(s != "oda_unknown_failure");
    CHECK(seen.insert(s).second);
  }
  CHECK(seen.size() == static_cast<std::size_t>(last + 1));
}

TEST_CASE("the simulator's test CA is the same on every run and passes the table's checks") {
  auto again = sim::generate_test_ca(kRid, kCaIndex, 1152, 42);
  REQUIRE(again);
  CHECK(again->public_key.modulus == keys().ca.public_key.modulus);
  CHECK(again->public_key.checksum == keys().ca.public_key.checksum);
  oda::CaKeyTable table;
  CHECK(table.add(again->public_key));
  auto other = sim::generate_test_ca(kRid, kCaIndex, 1152, 43);
  REQUIRE(other);
  CHECK(other->public_key.modulus != keys().ca.public_key.modulus);
}

TEST_CASE("the signing side refuses layouts Book 2 does not allow") {
  auto drbg = crypto::Drbg::deterministic(16);
  sim::IssuerCertificateFields fields;
  // An issuer key longer than the CA key.
  auto big = sim::RsaKeyPair::generate(drbg, 1160, 3);
  REQUIRE(big);
  CHECK_FALSE(sim::build_issuer_certificate(keys().ca.key, big->public_key(), fields, drbg));
  // An ICC key longer than the issuer key.
  CHECK_FALSE(sim::build_icc_certificate(keys().small_issuer, keys().issuer.public_key(), {},
                                         kStaticData, drbg));
  // Dynamic data too long for the ICC key.
  CHECK_FALSE(
      sim::sign_dynamic_data(keys().small_icc, Bytes(keys().small_icc.size() - 24, 0), {}, drbg));
  CHECK_FALSE(sim::RsaKeyPair::generate(drbg, 1020, 3));
  CHECK_FALSE(sim::RsaKeyPair::generate(drbg, 1024, 5));
  CHECK_FALSE(sim::icc_dynamic_data(hex("01")));
  CHECK_FALSE(sim::issuer_identifier("47", 2));
  CHECK_FALSE(sim::expiry_mmyy(13, 2030));
  CHECK(*sim::expiry_mmyy(2, 2031) == std::array<std::uint8_t, 2>{0x02, 0x31});
}
