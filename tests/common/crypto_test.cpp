#include <catch2/catch.hpp>

#include "common/crypto.h"

using faregate::to_hex;
namespace crypto = faregate::crypto;

// Test vectors from RFC 4231 (HMAC-SHA256) and FIPS 180-2 (SHA-256 of "abc").
TEST_CASE("sha256 matches the FIPS 180-2 example") {
  CHECK(to_hex(crypto::sha256(faregate::as_bytes("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("hmac_sha256 matches RFC 4231 test case 2") {
  auto mac = crypto::hmac_sha256(faregate::as_bytes("Jefe"),
                                 faregate::as_bytes("what do ya want for nothing?"));
  REQUIRE(mac);
  CHECK(to_hex(*mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("hmac_sha256 refuses an empty key") {
  auto mac = crypto::hmac_sha256({}, faregate::as_bytes("data"));
  REQUIRE_FALSE(mac);
  CHECK(mac.error().code == faregate::ErrorCode::kInvalidArgument);
}

TEST_CASE("a deterministic DRBG repeats for one seed and differs across seeds") {
  auto a = crypto::Drbg::deterministic(7);
  auto b = crypto::Drbg::deterministic(7);
  auto c = crypto::Drbg::deterministic(8);
  auto ba = a.bytes(64);
  auto bb = b.bytes(64);
  auto bc = c.bytes(64);
  REQUIRE(ba);
  REQUIRE(bb);
  REQUIRE(bc);
  CHECK(*ba == *bb);
  CHECK(*ba != *bc);
}

TEST_CASE("uniform stays below its bound and covers it") {
  auto drbg = crypto::Drbg::deterministic(1);
  std::array<int, 6> seen{};
  for (int i = 0; i < 600; ++i) {
    const auto v = drbg.uniform(6);
    REQUIRE(v < 6);
    ++seen[v];
  }
  for (int count : seen) CHECK(count > 50);
}

TEST_CASE("the system-entropy DRBG produces distinct outputs") {
  auto drbg = crypto::Drbg::from_system_entropy("test");
  REQUIRE(drbg);
  auto x = drbg->bytes(32);
  auto y = drbg->bytes(32);
  REQUIRE(x);
  REQUIRE(y);
  CHECK(*x != *y);
}

TEST_CASE("constant-time compare tells equal from unequal and different lengths") {
  const faregate::Bytes a{1, 2, 3};
  const faregate::Bytes b{1, 2, 3};
  const faregate::Bytes c{1, 2, 4};
  CHECK(crypto::equal_constant_time(a, b));
  CHECK_FALSE(crypto::equal_constant_time(a, c));
  CHECK_FALSE(crypto::equal_constant_time(a, faregate::Bytes{1, 2}));
}
