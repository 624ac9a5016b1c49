// The card token's exact input (docs/card_token.md) and the PAN's container.
#include <catch2/catch.hpp>

#include "common/crypto.h"
#include "firmware/tap/card_token.h"

using namespace faregate;

namespace {
emv::SensitivePan pan_of(std::string_view digits) {
  auto pan = emv::SensitivePan::from_digits(digits);
  REQUIRE(pan);
  return std::move(*pan);
}
}  // namespace

TEST_CASE("the card token is HMAC-SHA256 over the PAN digits and a two-digit PSN") {
  const Bytes key(32, 0x0B);
  auto token = tap::card_token(key, pan_of("4761739001010010"), 1);
  REQUIRE(token);
  // Computed independently through the plain HMAC over the documented input.
  CHECK(*token == crypto::hmac_sha256(key, as_bytes("476173900101001001")).value());
  CHECK(tap::card_token(key, pan_of("4761739001010010"), 42).value() ==
        crypto::hmac_sha256(key, as_bytes("476173900101001042")).value());
  // The test vector of docs/card_token.md, computed outside this code base, so that other
  // implementations (back office tools) can be checked against a fixed value.
  CHECK(to_hex(tap::card_token(Bytes(32, 0x0B), pan_of("4761739001010010"), 0).value()) ==
        "d7c38bee67bfab5324276aaf8b5f867f1988423d4c58bc5c13cbb480d94aa448");
}

TEST_CASE("PSN, PAN and key each change the token; the same input gives the same token") {
  const Bytes key(32, 0x0B);
  const auto base = tap::card_token(key, pan_of("4761739001010010"), 0).value();
  CHECK(tap::card_token(key, pan_of("4761739001010010"), 1).value() != base);
  CHECK(tap::card_token(key, pan_of("4761739001010028"), 0).value() != base);
  CHECK(tap::card_token(Bytes(32, 0x0C), pan_of("4761739001010010"), 0).value() != base);
  CHECK(tap::card_token(key, pan_of("4761739001010010"), 0).value() == base);
  // PAN "...10" + PSN 01 and PAN "...1001" + no PSN must not collide: the PSN always has two
  // digits, and PANs of different lengths end up as inputs of different lengths.
  CHECK(tap::card_token(key, pan_of("476173900101"), 1).value() !=
        tap::card_token(key, pan_of("4761739001"  "01"), 0).value());
}

TEST_CASE("a missing PAN, a PSN above 99 or a short key gives no token") {
  emv::SensitivePan none;
  CHECK(tap::card_token(Bytes(32, 1), none, 0).error().code == ErrorCode::kInvalidArgument);
  CHECK(tap::card_token(Bytes(32, 1), pan_of("4761739001010010"), 100).error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(tap::card_token(Bytes(15, 1), pan_of("4761739001010010"), 0).error().code ==
        ErrorCode::kCrypto);
  CHECK(tap::card_token({}, pan_of("4761739001010010"), 0).error().code == ErrorCode::kCrypto);
}

TEST_CASE("a sensitive PAN holds 12 to 19 digits, shows its last four and is wiped when moved from") {
  CHECK_FALSE(emv::SensitivePan::from_digits("47617390010"));
  CHECK_FALSE(emv::SensitivePan::from_digits("47617390010100100000"));
  CHECK_FALSE(emv::SensitivePan::from_digits("476173900101001X"));
  auto pan = pan_of("5413330089020011");
  CHECK(pan.last4() == "0011");
  CHECK(pan.size() == 16);
  emv::SensitivePan moved(std::move(pan));
  CHECK(pan.empty());  // NOLINT(bugprone-use-after-move): checking the wipe is the point
  CHECK(pan.digits().empty());
  CHECK(moved.digits() == "5413330089020011");
  emv::SensitivePan assigned;
  assigned = std::move(moved);
  CHECK(moved.empty());  // NOLINT(bugprone-use-after-move)
  CHECK(assigned.digits() == "5413330089020011");
  CHECK(pan_of("4761739001010010").luhn_valid());
  CHECK_FALSE(pan_of("4761739001010011").luhn_valid());
}
