#include <catch2/catch.hpp>

#include "common/bytes.h"

using faregate::Bytes;

TEST_CASE("hex round trip keeps every byte value") {
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  const std::string hex = faregate::to_hex(all);
  CHECK(hex.size() == 512);
  CHECK(hex.substr(0, 6) == "000102");
  auto back = faregate::from_hex(hex);
  REQUIRE(back);
  CHECK(*back == all);
}

TEST_CASE("from_hex accepts upper case and spaces, rejects odd length and non-hex") {
  auto ok = faregate::from_hex("A0 00 00 00 03 10 10");
  REQUIRE(ok);
  CHECK(*ok == Bytes{0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10});
  auto odd = faregate::from_hex("abc");
  REQUIRE_FALSE(odd);
  CHECK(odd.error().code == faregate::ErrorCode::kInvalidArgument);
  CHECK_FALSE(faregate::from_hex("zz"));
}
