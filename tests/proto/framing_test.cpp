// Pins the sync framing codec: round trips, frames split anywhere, and hostile prefixes.
#include <catch2/catch.hpp>

#include <string>

#include "faregate/v1/sync.pb.h"
#include "proto/framing.h"

namespace v1 = faregate::v1;
using faregate::framing::FrameError;
using faregate::framing::FrameReader;

namespace {

v1::ClientFrame sample_batch(int taps) {
  v1::ClientFrame frame;
  auto* batch = frame.mutable_tap_batch();
  for (int i = 1; i <= taps; ++i) {
    auto* tap = batch->add_taps();
    tap->set_device_id("dev-1");
    tap->set_seq(static_cast<std::uint64_t>(i));
    tap->set_card_token(std::string(32, static_cast<char>(i)));
    tap->set_decision(v1::DECISION_ACCEPT);
    tap->set_reason("ok");
  }
  return frame;
}

}  // namespace

TEST_CASE("a frame round-trips through encode and FrameReader") {
  const v1::ClientFrame sent = sample_batch(3);
  FrameReader reader;
  REQUIRE(reader.append(faregate::framing::encode_frame(sent)));
  auto body = reader.next();
  REQUIRE(body.has_value());
  REQUIRE(body->has_value());
  v1::ClientFrame got;
  REQUIRE(faregate::framing::parse_body(**body, got));
  REQUIRE(got.tap_batch().taps_size() == 3);
  CHECK(got.tap_batch().taps(2).seq() == 3);
  CHECK(got.tap_batch().taps(1).card_token() == std::string(32, '\x02'));
  CHECK_FALSE(reader.next().has_value());
  CHECK(reader.finish());
}

TEST_CASE("frames delivered one byte at a time are reassembled") {
  std::string stream = faregate::framing::encode_frame(sample_batch(2)) +
                       faregate::framing::encode_frame(sample_batch(5));
  FrameReader reader;
  std::vector<int> sizes;
  for (char c : stream) {
    REQUIRE(reader.append(std::string_view(&c, 1)));
    while (auto body = reader.next()) {
      REQUIRE(body->has_value());
      v1::ClientFrame f;
      REQUIRE(faregate::framing::parse_body(**body, f));
      sizes.push_back(f.tap_batch().taps_size());
    }
  }
  CHECK(sizes == std::vector<int>{2, 5});
  CHECK(reader.finish());
}

TEST_CASE("several frames in one read are all returned in order") {
  std::string stream;
  for (int i = 1; i <= 4; ++i) stream += faregate::framing::encode_frame(sample_batch(i));
  FrameReader reader;
  REQUIRE(reader.append(stream));
  int expected = 1;
  while (auto body = reader.next()) {
    v1::ClientFrame f;
    REQUIRE(faregate::framing::parse_body(**body, f));
    CHECK(f.tap_batch().taps_size() == expected++);
  }
  CHECK(expected == 5);
}

TEST_CASE("a length prefix over the maximum is refused before the body arrives") {
  FrameReader reader(1024);
  // varint 1025 = 0x81 0x08: only the prefix is sent, no body byte at all.
  const std::string prefix = "\x81\x08";
  auto appended = reader.append(prefix);
  REQUIRE_FALSE(appended);
  CHECK(appended.error() == FrameError::kTooLarge);
  CHECK(reader.buffered() == 2);  // nothing was reserved for the announced body
  // The reader stays poisoned.
  auto body = reader.next();
  REQUIRE(body.has_value());
  CHECK_FALSE(body->has_value());
  CHECK(body->error() == FrameError::kTooLarge);
}

TEST_CASE("a prefix announcing terabytes is refused without allocation") {
  FrameReader reader;
  const std::string prefix = "\xff\xff\xff\xff\xff\x1f";  // about 2^40
  auto appended = reader.append(prefix);
  REQUIRE_FALSE(appended);
  CHECK(appended.error() == FrameError::kTooLarge);
}

TEST_CASE("a varint longer than ten bytes is a bad length prefix") {
  FrameReader reader(SIZE_MAX);
  const std::string prefix(11, '\x80');
  auto appended = reader.append(prefix);
  REQUIRE_FALSE(appended);
  CHECK(appended.error() == FrameError::kBadLength);
}

TEST_CASE("a ten-byte varint overflowing 64 bits is a bad length prefix") {
  FrameReader reader(SIZE_MAX);
  std::string prefix(9, '\xff');
  prefix.push_back('\x7f');
  auto appended = reader.append(prefix);
  REQUIRE_FALSE(appended);
  CHECK(appended.error() == FrameError::kBadLength);
}

TEST_CASE("a stream that ends inside a frame is truncated") {
  const std::string frame = faregate::framing::encode_frame(sample_batch(3));
  FrameReader reader;
  REQUIRE(reader.append(std::string_view(frame).substr(0, frame.size() - 1)));
  CHECK_FALSE(reader.next().has_value());
  auto finished = reader.finish();
  REQUIRE_FALSE(finished);
  CHECK(finished.error() == FrameError::kTruncated);
  CHECK(reader.wanted() == 1);
}

TEST_CASE("garbage that is not a message is rejected as a bad message") {
  // Length 4, then bytes that are an invalid protobuf (field 0 / wire type 7).
  const std::string frame = std::string("\x04", 1) + std::string("\x07\xff\xff\xff", 4);
  FrameReader reader;
  REQUIRE(reader.append(frame));
  auto body = reader.next();
  REQUIRE(body.has_value());
  REQUIRE(body->has_value());
  v1::ClientFrame f;
  auto parsed = faregate::framing::parse_body(**body, f);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error() == FrameError::kBadMessage);
}

TEST_CASE("unknown fields from a newer peer survive a parse and re-encode") {
  v1::TapRecord newer;
  newer.set_seq(7);
  // Field 99, varint 42: a field this version does not know.
  std::string bytes = newer.SerializeAsString() + std::string("\x98\x06\x2a", 3);
  v1::TapRecord parsed;
  REQUIRE(parsed.ParseFromString(bytes));
  CHECK(parsed.seq() == 7);
  CHECK(parsed.SerializeAsString() == bytes);
}

TEST_CASE("wanted() tells how many bytes complete the current frame") {
  const std::string frame = faregate::framing::encode_frame(sample_batch(1));
  FrameReader reader;
  CHECK(reader.wanted() == 1);
  REQUIRE(reader.append(std::string_view(frame).substr(0, 3)));
  CHECK(reader.wanted() == frame.size() - 3);
}
