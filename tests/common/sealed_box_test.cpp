#include "common/sealed_box.h"

#include <catch2/catch.hpp>

using faregate::Bytes;
using faregate::ByteView;
using faregate::ErrorCode;
using faregate::from_hex;
using faregate::to_hex;
namespace crypto = faregate::crypto;
namespace sealed_box = faregate::sealed_box;

namespace {

Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  REQUIRE(bytes);
  return *bytes;
}

sealed_box::SealingKeyPair key_pair(std::uint64_t seed) {
  auto drbg = crypto::Drbg::deterministic(seed);
  auto pair = sealed_box::generate(drbg);
  REQUIRE(pair);
  return std::move(*pair);
}

const Bytes kPan = faregate::to_bytes("4761739001010010");
const Bytes kContext = faregate::to_bytes("device=gate-17;seq=4711");

}  // namespace

// RFC 5869, appendix A.1 (test case 1, SHA-256).
TEST_CASE("hkdf_sha256 matches RFC 5869 test case 1") {
  auto okm = sealed_box::hkdf_sha256(hex("000102030405060708090a0b0c"),
                                     hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                                     hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  REQUIRE(okm);
  CHECK(to_hex(*okm) ==
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

// RFC 5869, appendix A.3 (test case 3: no salt, no info).
TEST_CASE("hkdf_sha256 matches RFC 5869 test case 3") {
  auto okm =
      sealed_box::hkdf_sha256({}, hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), {}, 42);
  REQUIRE(okm);
  CHECK(to_hex(*okm) ==
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST_CASE("hkdf_sha256 refuses zero and over-long outputs") {
  CHECK(sealed_box::hkdf_sha256({}, hex("00"), {}, 0).error().code == ErrorCode::kInvalidArgument);
  CHECK(sealed_box::hkdf_sha256({}, hex("00"), {}, 255 * 32 + 1).error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(sealed_box::hkdf_sha256({}, hex("00"), {}, 255 * 32));
}

TEST_CASE("a sealed box opens with the right key and associated data") {
  auto pair = key_pair(1);
  auto drbg = crypto::Drbg::deterministic(100);
  auto box = sealed_box::seal(kPan, kContext, pair.public_key, drbg);
  REQUIRE(box);
  CHECK(box->size() == sealed_box::kOverheadBytes + kPan.size());
  CHECK((*box)[0] == sealed_box::kVersion);
  // The plaintext is not visible in the box.
  CHECK(std::search(box->begin(), box->end(), kPan.begin(), kPan.end()) == box->end());

  auto opened = sealed_box::open(*box, kContext, pair.private_key);
  REQUIRE(opened);
  CHECK(*opened == kPan);
}

TEST_CASE("empty plaintext and empty associated data round-trip") {
  auto pair = key_pair(2);
  auto drbg = crypto::Drbg::deterministic(200);
  auto box = sealed_box::seal({}, {}, pair.public_key, drbg);
  REQUIRE(box);
  CHECK(box->size() == sealed_box::kOverheadBytes);
  auto opened = sealed_box::open(*box, {}, pair.private_key);
  REQUIRE(opened);
  CHECK(opened->empty());
}

TEST_CASE("sealing twice gives different boxes") {
  auto pair = key_pair(3);
  auto drbg = crypto::Drbg::deterministic(300);
  auto a = sealed_box::seal(kPan, kContext, pair.public_key, drbg);
  auto b = sealed_box::seal(kPan, kContext, pair.public_key, drbg);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a != *b);
}

TEST_CASE("a sealed box does not open with another private key") {
  auto pair = key_pair(4);
  auto other = key_pair(5);
  auto drbg = crypto::Drbg::deterministic(400);
  auto box = sealed_box::seal(kPan, kContext, pair.public_key, drbg);
  REQUIRE(box);
  auto opened = sealed_box::open(*box, kContext, other.private_key);
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == ErrorCode::kCrypto);
}

TEST_CASE("changing any single byte of a sealed box makes it fail to open") {
  auto pair = key_pair(6);
  auto drbg = crypto::Drbg::deterministic(600);
  auto box = sealed_box::seal(kPan, kContext, pair.public_key, drbg);
  REQUIRE(box);
  for (std::size_t i = 0; i < box->size(); ++i) {
    for (std::uint8_t flip : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xFF}}) {
      Bytes tampered = *box;
      tampered[i] ^= flip;
      auto opened = sealed_box::open(tampered, kContext, pair.private_key);
      INFO("byte " << i << " xor " << int(flip));
      REQUIRE_FALSE(opened);
      CHECK(opened.error().code == ErrorCode::kCrypto);
    }
  }
}

TEST_CASE("a truncated or extended sealed box fails to open") {
  auto pair = key_pair(7);
  auto drbg = crypto::Drbg::deterministic(700);
  auto box = sealed_box::seal(kPan, kContext, pair.public_key, drbg);
  REQUIRE(box);
  for (std::size_t length = 0; length < box->size(); ++length) {
    auto opened = sealed_box::open(ByteView(box->data(), length), kContext, pair.private_key);
    INFO("length " << length);
    REQUIRE_FALSE(opened);
    CHECK(opened.error().code == ErrorCode::kCrypto);
  }
  Bytes extended = *box;
  extended.push_back(0x00);
  CHECK_FALSE(sealed_box::open(extended, kContext, pair.private_key));
}

TEST_CASE("a sealed box fails to open with different associated data") {
  auto pair = key_pair(8);
  auto drbg = crypto::Drbg::deterministic(800);
  auto box = sealed_box::seal(kPan, kContext, pair.public_key, drbg);
  REQUIRE(box);
  CHECK_FALSE(
      sealed_box::open(*box, faregate::to_bytes("device=gate-17;seq=4712"), pair.private_key));
  CHECK_FALSE(sealed_box::open(*box, {}, pair.private_key));
  Bytes longer = kContext;
  longer.push_back(0);
  auto opened = sealed_box::open(*box, longer, pair.private_key);
  REQUIRE_FALSE(opened);
  CHECK(opened.error().code == ErrorCode::kCrypto);
}

TEST_CASE("keys survive PEM export and import") {
  auto pair = key_pair(9);
  auto public_pem = pair.public_key.to_pem();
  auto private_pem = pair.private_key.to_pem();
  REQUIRE(public_pem);
  REQUIRE(private_pem);
  CHECK(public_pem->starts_with("-----BEGIN PUBLIC KEY-----"));
  CHECK(private_pem->starts_with("-----BEGIN EC PRIVATE KEY-----"));

  auto public_key = sealed_box::PublicKey::from_pem(*public_pem);
  auto private_key = sealed_box::PrivateKey::from_pem(*private_pem);
  REQUIRE(public_key);
  REQUIRE(private_key);
  CHECK(*public_key == pair.public_key);
  CHECK(private_key->raw() == pair.private_key.raw());
  CHECK(private_key->public_key() == pair.public_key);

  // A box sealed to the imported public key opens with the imported private key.
  auto drbg = crypto::Drbg::deterministic(900);
  auto box = sealed_box::seal(kPan, kContext, *public_key, drbg);
  REQUIRE(box);
  auto opened = sealed_box::open(*box, kContext, *private_key);
  REQUIRE(opened);
  CHECK(*opened == kPan);
}

TEST_CASE("keys survive raw export and import") {
  auto pair = key_pair(10);
  auto public_key = sealed_box::PublicKey::from_raw(pair.public_key.raw());
  auto private_key = sealed_box::PrivateKey::from_raw(pair.private_key.raw());
  REQUIRE(public_key);
  REQUIRE(private_key);
  CHECK(*public_key == pair.public_key);
  CHECK(private_key->public_key() == pair.public_key);
}

TEST_CASE("importing malformed keys fails") {
  auto pair = key_pair(11);
  Bytes point(pair.public_key.raw().begin(), pair.public_key.raw().end());

  CHECK_FALSE(sealed_box::PublicKey::from_raw(ByteView(point).first(64)));
  Bytes compressed_tag = point;
  compressed_tag[0] = 0x02;
  CHECK_FALSE(sealed_box::PublicKey::from_raw(compressed_tag));
  Bytes off_curve = point;
  off_curve[64] ^= 0x01;  // change Y: the point leaves the curve
  auto bad = sealed_box::PublicKey::from_raw(off_curve);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);

  CHECK_FALSE(sealed_box::PrivateKey::from_raw(Bytes(32, 0x00)));  // zero is not a key
  CHECK_FALSE(sealed_box::PrivateKey::from_raw(Bytes(32, 0xFF)));  // above the group order
  CHECK_FALSE(sealed_box::PrivateKey::from_raw(Bytes(31, 0x01)));

  CHECK_FALSE(sealed_box::PublicKey::from_pem("not a key"));
  CHECK_FALSE(
      sealed_box::PrivateKey::from_pem("-----BEGIN EC PRIVATE KEY-----\nAAAA\n"
                                       "-----END EC PRIVATE KEY-----\n"));
  // A private PEM is not accepted where a public key is expected, and vice versa.
  auto private_pem = pair.private_key.to_pem();
  auto public_pem = pair.public_key.to_pem();
  REQUIRE(private_pem);
  REQUIRE(public_pem);
  CHECK_FALSE(sealed_box::PrivateKey::from_pem(*public_pem));
  CHECK_FALSE(sealed_box::PublicKey::from_pem(*private_pem));
}

TEST_CASE("generation is repeatable for one seed") {
  auto a = key_pair(12);
  auto b = key_pair(12);
  auto c = key_pair(13);
  CHECK(a.private_key.raw() == b.private_key.raw());
  CHECK(a.public_key == b.public_key);
  CHECK_FALSE(a.public_key == c.public_key);
}

TEST_CASE("a moved-from private key no longer holds the scalar") {
  auto pair = key_pair(14);
  const auto scalar = pair.private_key.raw();
  sealed_box::PrivateKey moved = std::move(pair.private_key);
  CHECK(moved.raw() == scalar);
  // NOLINTNEXTLINE(bugprone-use-after-move): checking the wipe is the point of this test.
  CHECK(pair.private_key.raw() == std::array<std::uint8_t, 32>{});
}
