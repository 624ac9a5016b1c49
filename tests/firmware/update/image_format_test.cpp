// Header and image layout parsing, fed hostile input: every parser here reads bytes that come
// from a technician's laptop, a download or a damaged disk.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "firmware/update/image_format.h"
#include "tests/firmware/update/update_test_support.h"

namespace faregate::update {
namespace {

ImageHeader sample_header() {
  ImageHeader h;
  h.firmware_version = "1.4.0-rc1";
  h.security_counter = 7;
  h.payload_length = 3;
  h.payload_sha256 = crypto::sha256(as_bytes("abc"));
  h.signer_key_id.fill(0x42);
  return h;
}

// Recomputes the header check after a test edits a field, so that the edit reaches the field
// checks behind it (an attacker can do the same: the check is not a security control).
void reseal(Bytes& header) {
  const auto check = crypto::sha256(ByteView(header.data(), 128));
  std::copy(check.begin(), check.end(), header.begin() + 128);
}

void put_u64(Bytes& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
  }
}

std::string parse_error(ByteView bytes) {
  auto h = parse_header(bytes);
  return h ? std::string("parsed") : h.error().message;
}

}  // namespace

TEST_CASE("a header survives encode and parse unchanged") {
  const ImageHeader h = sample_header();
  const Bytes bytes = encode_header(h);
  REQUIRE(bytes.size() == kImageHeaderBytes);
  auto parsed = parse_header(bytes);
  REQUIRE(parsed);
  CHECK(*parsed == h);
}

TEST_CASE("every truncation of a header is refused as truncated") {
  const Bytes bytes = encode_header(sample_header());
  for (std::size_t n = 0; n < kImageHeaderBytes; ++n) {
    auto h = parse_header(ByteView(bytes.data(), n));
    REQUIRE_FALSE(h);
    CHECK(h.error().code == ErrorCode::kCorrupt);
    CHECK_THAT(h.error().message, Catch::Contains("truncated"));
  }
}

TEST_CASE("a wrong magic, format version or header length is named in the refusal") {
  Bytes bytes = encode_header(sample_header());
  Bytes magic = bytes;
  magic[0] = 'X';
  CHECK_THAT(parse_error(magic), Catch::Contains("bad magic"));
  Bytes version = bytes;
  version[4] = 2;
  CHECK_THAT(parse_error(version), Catch::Contains("unsupported image format version 2"));
  Bytes length = bytes;
  length[6] = 0xff;
  CHECK_THAT(parse_error(length), Catch::Contains("header length"));
}

TEST_CASE("a changed byte in the header fields fails the header check") {
  const Bytes bytes = encode_header(sample_header());
  for (std::size_t i = 8; i < kImageHeaderBytes; ++i) {
    Bytes changed = bytes;
    changed[i] ^= 0x20;
    CHECK_THAT(parse_error(changed), Catch::Contains("header check failed"));
  }
}

TEST_CASE("a payload length above the limit is refused before anything is allocated") {
  Bytes bytes = encode_header(sample_header());
  put_u64(bytes, 48, kMaxPayloadBytes + 1);
  reseal(bytes);
  CHECK_THAT(parse_error(bytes), Catch::Contains("exceeds"));
  put_u64(bytes, 48, UINT64_MAX);
  reseal(bytes);
  CHECK_THAT(parse_error(bytes), Catch::Contains("exceeds"));
}

TEST_CASE("a firmware version field with control bytes, spaces or bytes after its end is refused") {
  for (const auto& [at, value] : std::vector<std::pair<std::size_t, std::uint8_t>>{
           {8, 0x00}, {9, 0x07}, {10, ' '}, {11, 0xc3}, {30, 'x'}}) {
    Bytes bytes = encode_header(sample_header());
    bytes[at] = value;
    reseal(bytes);
    CHECK_THAT(parse_error(bytes), Catch::Contains("firmware version field"));
  }
}

TEST_CASE("non-zero reserved header bytes are refused") {
  Bytes bytes = encode_header(sample_header());
  bytes[125] = 1;
  reseal(bytes);
  CHECK_THAT(parse_error(bytes), Catch::Contains("reserved"));
}

TEST_CASE("firmware versions must be 1 to 32 printable characters") {
  CHECK(check_firmware_version("1.0.0"));
  CHECK(check_firmware_version(std::string(32, 'v')));
  CHECK_FALSE(check_firmware_version(""));
  CHECK_FALSE(check_firmware_version(std::string(33, 'v')));
  CHECK_FALSE(check_firmware_version("1.0 beta"));
  CHECK_FALSE(check_firmware_version("1.0\n"));
  CHECK_FALSE(check_firmware_version("v\xc3\xa9"));
}

TEST_CASE("an image whose payload or signature is cut short is refused as truncated") {
  const auto key = testing::seeded_key(1);
  const Bytes image = testing::make_image(key, "1.0.0", 1, std::string(100, 'p'));
  REQUIRE(parse_image(image));
  for (std::size_t n = kImageHeaderBytes; n < kImageHeaderBytes + 100 + kMinSignatureBytes; ++n) {
    auto parts = parse_image(ByteView(image.data(), n));
    REQUIRE_FALSE(parts);
    CHECK_THAT(parts.error().message, Catch::Contains("truncated"));
  }
}

TEST_CASE("an image with bytes appended after a full-size signature is refused") {
  const auto key = testing::seeded_key(1);
  Bytes image = testing::make_image(key, "1.0.0", 1, "payload");
  const std::size_t signature = image.size() - kImageHeaderBytes - 7;
  image.resize(image.size() + (kMaxSignatureBytes - signature) + 1, 0);
  auto parts = parse_image(image);
  REQUIRE_FALSE(parts);
  CHECK_THAT(parts.error().message, Catch::Contains("bytes after the payload"));
}

TEST_CASE("parse_image splits an image into signed region, payload and signature") {
  const auto key = testing::seeded_key(1);
  const Bytes image = testing::make_image(key, "2.0.0", 9, "the payload");
  auto parts = parse_image(image);
  REQUIRE(parts);
  CHECK(parts->header.firmware_version == "2.0.0");
  CHECK(parts->header.security_counter == 9);
  CHECK(to_string(parts->payload) == "the payload");
  CHECK(parts->signed_region.size() == kImageHeaderBytes + 11);
  CHECK(parts->signature.size() + parts->signed_region.size() == image.size());
  CHECK(parts->signature[0] == 0x30);  // DER SEQUENCE
}

TEST_CASE("random bytes and random mutations of a valid image never parse into a wrong header") {
  const auto key = testing::seeded_key(1);
  const Bytes image = testing::make_image(key, "1.0.0", 1, "payload bytes");
  auto rng = crypto::Drbg::deterministic(99);
  int parsed_mutants = 0;
  for (int round = 0; round < 5000; ++round) {
    Bytes input;
    if (round % 2 == 0) {
      input = *rng.bytes(rng.uniform(400));
      if (input.size() >= 4) std::copy(kImageMagic.begin(), kImageMagic.end(), input.begin());
    } else {
      input = image;
      const auto flips = 1 + rng.uniform(4);
      for (std::uint64_t f = 0; f < flips; ++f) {
        input[rng.uniform(kImageHeaderBytes)] ^= static_cast<std::uint8_t>(1 + rng.uniform(255));
      }
    }
    auto parts = parse_image(input);
    if (parts) {
      ++parsed_mutants;
      CHECK(parts->payload.size() == parts->header.payload_length);
    }
  }
  // A header mutation that survives must have hit the SHA-256 header check: with 1 to 4 flipped
  // bytes that does not happen.
  CHECK(parsed_mutants == 0);
}

}  // namespace faregate::update
