// The PN532 frame codec: the exact bytes libnfc expects, checksums, extended frames, the wake-up
// preamble, and recovery from garbage and truncated frames.
#include "simulator/pn532/pn532_frame.h"

#include <catch2/catch.hpp>
#include <random>
#include <vector>

using faregate::Bytes;
using faregate::ByteView;
using faregate::simulator::kPn532ChipToHost;
using faregate::simulator::kPn532HostToChip;
using faregate::simulator::pn532_ack_frame;
using faregate::simulator::pn532_error_frame;
using faregate::simulator::pn532_information_frame;
using faregate::simulator::pn532_nack_frame;
using faregate::simulator::Pn532Frame;
using faregate::simulator::Pn532FrameKind;
using faregate::simulator::Pn532FrameParser;

namespace {

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::vector<Pn532Frame> parse_all(Pn532FrameParser& parser) {
  std::vector<Pn532Frame> frames;
  while (auto f = parser.next()) frames.push_back(*f);
  return frames;
}

Bytes host_frame(const Bytes& data) { return *pn532_information_frame(kPn532HostToChip, data); }

}  // namespace

TEST_CASE("a response frame has the layout and checksums libnfc checks") {
  // GetFirmwareVersion answer: LEN 06 = TFI + 5, LCS FA, DCS E8 (D5+03+32+01+06+07+E8 = 0x200).
  auto frame = pn532_information_frame(kPn532ChipToHost, Bytes{0x03, 0x32, 0x01, 0x06, 0x07});
  REQUIRE(frame);
  CHECK(*frame ==
        Bytes{0x00, 0x00, 0xFF, 0x06, 0xFA, 0xD5, 0x03, 0x32, 0x01, 0x06, 0x07, 0xE8, 0x00});
}

TEST_CASE("ACK, NACK and error frames are the fixed byte strings") {
  CHECK(pn532_ack_frame() == Bytes{0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00});
  CHECK(pn532_nack_frame() == Bytes{0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00});
  CHECK(pn532_error_frame() == Bytes{0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00});
}

TEST_CASE("the wake-up bytes before libnfc's first command are skipped") {
  Bytes stream{0x55, 0x55};
  stream.insert(stream.end(), 14, 0x00);
  const Bytes sam = {0x00, 0x00, 0xFF, 0x03, 0xFD, 0xD4, 0x14, 0x01, 0x17, 0x00};
  stream.insert(stream.end(), sam.begin(), sam.end());
  CHECK(host_frame({0x14, 0x01}) == sam);

  Pn532FrameParser parser;
  parser.feed(stream);
  auto frames = parse_all(parser);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind == Pn532FrameKind::kInformation);
  CHECK(frames[0].tfi == kPn532HostToChip);
  CHECK(frames[0].data == Bytes{0x14, 0x01});
  CHECK(parser.skipped_bytes() >= 16);
  CHECK(parser.invalid_frames() == 0);
}

TEST_CASE("a frame split into single bytes is put back together") {
  const Bytes frame = host_frame({0x4A, 0x01, 0x00});
  Pn532FrameParser parser;
  std::vector<Pn532Frame> frames;
  for (std::uint8_t b : frame) {
    parser.feed(ByteView(&b, 1));
    while (auto f = parser.next()) frames.push_back(*f);
  }
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].data == Bytes{0x4A, 0x01, 0x00});
}

TEST_CASE("a normal frame with LEN FF carries 254 data bytes") {
  Bytes data(254, 0xA5);
  auto frame = pn532_information_frame(kPn532ChipToHost, data);
  REQUIRE(frame);
  CHECK((*frame)[3] == 0xFF);
  CHECK((*frame)[4] == 0x01);
  CHECK(frame->size() == 3 + 2 + 255 + 2);
  Pn532FrameParser parser;
  parser.feed(*frame);
  auto parsed = parser.next();
  REQUIRE(parsed);
  CHECK(parsed->kind == Pn532FrameKind::kInformation);
  CHECK(parsed->data == data);
}

TEST_CASE("longer bodies travel in an extended frame and come back unchanged") {
  Bytes data;
  for (int i = 0; i < 260; ++i) data.push_back(static_cast<std::uint8_t>(i * 7));
  auto frame = pn532_information_frame(kPn532ChipToHost, data);
  REQUIRE(frame);
  // 00 00 FF FF FF LENm LENl LCS with LEN = 261 = 0x0105 and LCS = -(01 + 05).
  CHECK(Bytes(frame->begin(), frame->begin() + 8) ==
        Bytes{0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x01, 0x05, 0xFA});
  CHECK(frame->size() == 8 + 261 + 2);
  Pn532FrameParser parser;
  parser.feed(*frame);
  auto parsed = parser.next();
  REQUIRE(parsed);
  CHECK(parsed->kind == Pn532FrameKind::kInformation);
  CHECK(parsed->tfi == kPn532ChipToHost);
  CHECK(parsed->data == data);
}

TEST_CASE("frame bodies outside 1..264 bytes are refused") {
  CHECK_FALSE(pn532_information_frame(kPn532ChipToHost, Bytes{}));
  CHECK(pn532_information_frame(kPn532ChipToHost, Bytes(264, 0)));
  auto too_long = pn532_information_frame(kPn532ChipToHost, Bytes(265, 0));
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().code == faregate::ErrorCode::kInvalidArgument);
}

TEST_CASE("ACK, NACK and error frames are recognised") {
  Pn532FrameParser parser;
  parser.feed(concat({pn532_ack_frame(), pn532_nack_frame(), pn532_error_frame()}));
  auto frames = parse_all(parser);
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].kind == Pn532FrameKind::kAck);
  CHECK(frames[1].kind == Pn532FrameKind::kNack);
  CHECK(frames[2].kind == Pn532FrameKind::kError);
}

TEST_CASE("a bad length checksum is reported and the next frame is still found") {
  Bytes bad = host_frame({0x02});
  bad[4] ^= 0x01;  // LCS
  Pn532FrameParser parser;
  parser.feed(concat({bad, host_frame({0x02})}));
  auto frames = parse_all(parser);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].kind == Pn532FrameKind::kInvalid);
  CHECK(frames[1].kind == Pn532FrameKind::kInformation);
  CHECK(frames[1].data == Bytes{0x02});
  CHECK(parser.invalid_frames() == 1);
}

TEST_CASE("a bad data checksum is reported and the frame dropped") {
  Bytes bad = host_frame({0x4A, 0x01, 0x00});
  bad[bad.size() - 2] ^= 0x10;  // DCS
  Pn532FrameParser parser;
  parser.feed(bad);
  auto frames = parse_all(parser);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].kind == Pn532FrameKind::kInvalid);
}

TEST_CASE("a truncated frame does not swallow the complete frame behind it") {
  // LEN 05 claims more bytes than were sent before the next frame starts.
  const Bytes truncated{0x00, 0x00, 0xFF, 0x05, 0xFB, 0xD4, 0x4A};
  const Bytes good = host_frame({0x4A, 0x01, 0x00});
  Pn532FrameParser parser;
  parser.feed(concat({truncated, good}));
  auto frames = parse_all(parser);
  REQUIRE_FALSE(frames.empty());
  CHECK(frames.back().kind == Pn532FrameKind::kInformation);
  CHECK(frames.back().data == Bytes{0x4A, 0x01, 0x00});
}

TEST_CASE("a partial frame is dropped on request and scanning resumes") {
  Pn532FrameParser parser;
  parser.feed(Bytes{0x00, 0x00, 0xFF, 0x40, 0xC0, 0xD4, 0x40});
  CHECK_FALSE(parser.next());
  CHECK(parser.has_partial_frame());
  parser.feed(host_frame({0x02}));
  CHECK_FALSE(parser.next());  // still inside the 64 bytes the first header claims
  parser.drop_partial_frame();
  CHECK(parser.invalid_frames() == 1);
  auto frames = parse_all(parser);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].data == Bytes{0x02});
  CHECK_FALSE(parser.has_partial_frame());
}

TEST_CASE("an extended length no PN532 frame has is rejected at once") {
  Pn532FrameParser parser;
  parser.feed(Bytes{0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x10, 0x00, 0xF0});
  auto frame = parser.next();
  REQUIRE(frame);
  CHECK(frame->kind == Pn532FrameKind::kInvalid);
  CHECK_FALSE(parser.has_partial_frame());
}

TEST_CASE("frames survive random line noise between them") {
  std::mt19937 rng(20240607);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> noise_length(0, 40);
  Pn532FrameParser parser;
  std::vector<Bytes> sent;
  std::vector<Bytes> received;
  for (int i = 0; i < 300; ++i) {
    Bytes noise;
    for (int n = noise_length(rng); n > 0; --n)
      noise.push_back(static_cast<std::uint8_t>(byte(rng)));
    // Noise never ends in a half start code glued to the frame's own.
    noise.push_back(0x55);
    Bytes data{0x40, 0x01};
    for (int n = byte(rng) % 30; n > 0; --n) data.push_back(static_cast<std::uint8_t>(byte(rng)));
    sent.push_back(data);
    parser.feed(concat({noise, host_frame(data)}));
    // Like the pty server: take what is complete; drop a partial frame when the line is idle.
    while (true) {
      while (auto f = parser.next()) {
        if (f->kind == Pn532FrameKind::kInformation) received.push_back(f->data);
      }
      if (!parser.has_partial_frame()) break;
      parser.drop_partial_frame();
    }
  }
  // Noise may by chance form a frame with valid checksums, but every real frame must come out.
  std::size_t found = 0;
  std::size_t at = 0;
  for (const Bytes& s : sent) {
    while (at < received.size() && received[at] != s) ++at;
    if (at < received.size()) {
      ++found;
      ++at;
    }
  }
  CHECK(found == sent.size());
}
