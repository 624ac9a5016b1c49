// Signature, key and integrity checks: each way an image can be wrong is refused, with its own
// message, and no single changed byte anywhere gets through.

#include <catch2/catch.hpp>

#include <set>

#include "firmware/update/image_verifier.h"
#include "tests/firmware/update/update_test_support.h"

namespace faregate::update {
namespace {

constexpr const char* kP384PublicKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEMLgVASXaL97Mf6rDWuQHda7CcK9hzVy+\n"
    "NaeDZgNukb+TkofbVmFYOdag0Vp8lFZGoK1YKHMGOIy6BS/iRGoQObM2e8mQNjMV\n"
    "NLv23Qz2tOXimpJ/sq4A7fTLloB05T3S\n"
    "-----END PUBLIC KEY-----\n";
constexpr const char* kRsaPublicKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDYoFD8ANVj5IsDdlGbGVu2iG+w\n"
    "WWtP/WmPf+MbjOlwL/jA6PH09fY9q8SoL9cqTH1ckaza7RwETj5HjeneXElBiew/\n"
    "hcgcAdT8MIGqw/MEFZ9meVGZjwUHeXKONojCEda8uiQQtF13+Hb6QZP64ixW+ubO\n"
    "+bijtORvkoRBRxD8tQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

std::string refusal(ByteView image, const PublicKey& key) {
  auto v = verify_image(image, key);
  return v ? std::string("accepted") : v.error().message;
}

}  // namespace

TEST_CASE("an image verifies with the key that signed it") {
  const auto key = testing::seeded_key(1);
  const Bytes image = testing::make_image(key, "1.2.3", 4, "program");
  auto v = verify_image(image, key.public_key());
  REQUIRE(v);
  CHECK(v->header.firmware_version == "1.2.3");
  CHECK(v->header.security_counter == 4);
  CHECK(to_string(v->payload) == "program");
  CHECK(v->image_sha256 == crypto::sha256(image));
}

TEST_CASE(
    "every single changed byte anywhere in an image is refused, never taken for another key") {
  const auto key = testing::seeded_key(1);
  const Bytes image = testing::make_image(key, "1.2.3", 4, std::string(200, 'x'));
  std::set<std::string> messages;
  for (std::size_t i = 0; i < image.size(); ++i) {
    for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
      Bytes tampered = image;
      tampered[i] ^= mask;
      const std::string why = refusal(tampered, key.public_key());
      INFO("byte " << i << " mask " << int(mask));
      REQUIRE(why != "accepted");
      CHECK_THAT(why, !Catch::Contains("different key"));
      messages.insert(why.substr(0, why.find(':')));
    }
  }
  // Header, payload and signature damage each have their own wording.
  CHECK(messages.count("header check failed") == 1);
  CHECK(messages.count("payload SHA-256 does not match the header") == 1);
  CHECK(messages.count("signature does not verify") == 1);
}

TEST_CASE("an image signed by another key is refused as signed by a different key") {
  const auto trusted = testing::seeded_key(1);
  const auto other = testing::seeded_key(2);
  const Bytes image = testing::make_image(other, "1.2.3", 4);
  CHECK_THAT(refusal(image, trusted.public_key()),
             Catch::StartsWith("image signed by a different key"));
}

TEST_CASE(
    "an image that claims the trusted key id but was signed by another key fails its signature") {
  const auto trusted = testing::seeded_key(1);
  const auto attacker = testing::seeded_key(2);
  ImageHeader h;
  h.firmware_version = "6.6.6";
  h.security_counter = 100;
  const std::string payload = "evil";
  h.payload_length = payload.size();
  h.payload_sha256 = crypto::sha256(as_bytes(payload));
  h.signer_key_id = trusted.public_key().key_id();
  Bytes image = encode_header(h);
  image.insert(image.end(), payload.begin(), payload.end());
  auto rng = crypto::Drbg::deterministic(5);
  auto sig = attacker.sign_digest(crypto::sha256(image), rng);
  REQUIRE(sig);
  image.insert(image.end(), sig->begin(), sig->end());
  CHECK_THAT(refusal(image, trusted.public_key()), Catch::StartsWith("signature does not verify"));
}

TEST_CASE(
    "damaged payload, damaged header, wrong key, bad signature and old counter read differently") {
  const auto key = testing::seeded_key(1);
  const auto other = testing::seeded_key(2);
  const Bytes image = testing::make_image(key, "1.0.0", 5, "program bytes");
  Bytes payload = image;
  payload[kImageHeaderBytes + 2] ^= 1;
  Bytes header = image;
  header[45] ^= 1;
  Bytes signature = image;
  signature[signature.size() - 3] ^= 1;
  auto ok = verify_image(image, key.public_key());
  REQUIRE(ok);
  const std::set<std::string> messages = {
      refusal(payload, key.public_key()), refusal(header, key.public_key()),
      refusal(testing::make_image(other, "1.0.0", 5), key.public_key()),
      refusal(signature, key.public_key()), check_security_counter(ok->header, 6).error().message};
  CHECK(messages.size() == 5);
}

TEST_CASE("the security counter check refuses lower counters and accepts equal or higher") {
  ImageHeader h;
  h.firmware_version = "2.0.0";
  h.security_counter = 5;
  CHECK(check_security_counter(h, 0));
  CHECK(check_security_counter(h, 5));
  auto low = check_security_counter(h, 6);
  REQUIRE_FALSE(low);
  CHECK(low.error().code == ErrorCode::kConflict);
  CHECK_THAT(low.error().message,
             Catch::Contains("security counter 5") && Catch::Contains("rollback"));
}

TEST_CASE("keys survive PEM export and import with the same key id") {
  const auto key = testing::seeded_key(3);
  auto pem = key.private_pem();
  REQUIRE(pem);
  CHECK_THAT(*pem, Catch::Contains("PRIVATE KEY"));
  auto again = SigningKey::from_pem(*pem);
  REQUIRE(again);
  CHECK(again->public_key().key_id() == key.public_key().key_id());
  auto pub = PublicKey::from_pem(key.public_key().pem());
  REQUIRE(pub);
  CHECK(pub->key_id() == key.public_key().key_id());
  CHECK_THAT(pub->pem(), Catch::StartsWith("-----BEGIN PUBLIC KEY-----"));
}

TEST_CASE("keys that are not P-256, or not keys at all, are refused") {
  CHECK_FALSE(PublicKey::from_pem(kP384PublicKey));
  CHECK_FALSE(PublicKey::from_pem(kRsaPublicKey));
  CHECK_FALSE(PublicKey::from_pem(""));
  CHECK_FALSE(
      PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n"));
  CHECK_FALSE(SigningKey::from_pem(kP384PublicKey));
  CHECK_FALSE(SigningKey::from_pem("not a key"));
  CHECK_FALSE(PublicKey::from_file("/nonexistent/key.pem"));
}

}  // namespace faregate::update
