#include "simulator/pn532/pn532_frame.h"

#include <algorithm>
#include <string>

namespace faregate::simulator {

namespace {

constexpr std::uint8_t kPreamble = 0x00;
constexpr std::uint8_t kStartCode1 = 0x00;
constexpr std::uint8_t kStartCode2 = 0xFF;
constexpr std::uint8_t kPostamble = 0x00;
// Bytes of "00 FF LEN LCS" and of "00 FF FF FF LENm LENl LCS".
constexpr std::size_t kNormalHeader = 4;
constexpr std::size_t kExtendedHeader = 7;

std::uint8_t checksum_of(ByteView bytes) {
  unsigned sum = 0;
  for (std::uint8_t b : bytes) sum += b;
  return static_cast<std::uint8_t>(0x100 - (sum & 0xFF));
}

bool starts_with_start_code(const Bytes& buffer) {
  return buffer.size() >= 2 && buffer[0] == kStartCode1 && buffer[1] == kStartCode2;
}

}  // namespace

void Pn532FrameParser::feed(ByteView bytes) {
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

bool Pn532FrameParser::has_partial_frame() const { return starts_with_start_code(buffer_); }

void Pn532FrameParser::drop_partial_frame() {
  if (!has_partial_frame()) return;
  buffer_.erase(buffer_.begin(), buffer_.begin() + 2);
  ++invalid_frames_;
}

std::optional<Pn532Frame> Pn532FrameParser::next() {
  // Skip to the start code. The preamble 00 is not required: the start code alone syncs, which
  // also swallows the wake-up bytes (55 55 00 ...) libnfc sends on every open.
  std::size_t start = 0;
  while (start + 1 < buffer_.size() &&
         !(buffer_[start] == kStartCode1 && buffer_[start + 1] == kStartCode2)) {
    ++start;
  }
  if (start + 1 >= buffer_.size()) {
    // No start code yet; a trailing 00 may be the first half of one.
    const bool keep_last = !buffer_.empty() && buffer_.back() == kStartCode1;
    const std::size_t drop = keep_last ? buffer_.size() - 1 : buffer_.size();
    skipped_bytes_ += drop;
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(drop));
    return std::nullopt;
  }
  skipped_bytes_ += start;
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start));

  auto invalid = [this]() {
    // Resync on the byte after this start code: what looked like a header may have been data.
    buffer_.erase(buffer_.begin(), buffer_.begin() + 2);
    ++invalid_frames_;
    return Pn532Frame{Pn532FrameKind::kInvalid, 0, {}};
  };

  if (buffer_.size() < kNormalHeader) return std::nullopt;
  const std::uint8_t len = buffer_[2];
  const std::uint8_t lcs = buffer_[3];
  if (len == 0x00 && lcs == 0xFF) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + kNormalHeader);
    return Pn532Frame{Pn532FrameKind::kAck, 0, {}};
  }
  if (len == 0xFF && lcs == 0x00) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + kNormalHeader);
    return Pn532Frame{Pn532FrameKind::kNack, 0, {}};
  }

  std::size_t header = kNormalHeader;
  std::size_t body_length = len;  // TFI + data
  if (len == 0xFF && lcs == 0xFF) {
    if (buffer_.size() < kExtendedHeader) return std::nullopt;
    const std::uint8_t len_high = buffer_[4];
    const std::uint8_t len_low = buffer_[5];
    const std::uint8_t ext_lcs = buffer_[6];
    if (static_cast<std::uint8_t>(len_high + len_low + ext_lcs) != 0) return invalid();
    header = kExtendedHeader;
    body_length = (static_cast<std::size_t>(len_high) << 8) | len_low;
  } else if (static_cast<std::uint8_t>(len + lcs) != 0) {
    return invalid();
  }
  // A length no PN532 frame can have is garbage, not a reason to wait for 64 KiB.
  if (body_length == 0 || body_length > kPn532MaxFrameData + 1) return invalid();

  const std::size_t total = header + body_length + 1;  // + DCS; the postamble is skipped later
  if (buffer_.size() < total) return std::nullopt;

  const ByteView body(buffer_.data() + header, body_length);
  unsigned sum = buffer_[header + body_length];
  for (std::uint8_t b : body) sum += b;
  if ((sum & 0xFF) != 0) return invalid();

  Pn532Frame frame;
  frame.tfi = body[0];
  frame.data.assign(body.begin() + 1, body.end());
  frame.kind = (frame.tfi == kPn532ErrorTfi && frame.data.empty()) ? Pn532FrameKind::kError
                                                                   : Pn532FrameKind::kInformation;
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(total));
  return frame;
}

Bytes pn532_ack_frame() { return {kPreamble, kStartCode1, kStartCode2, 0x00, 0xFF, kPostamble}; }

Bytes pn532_nack_frame() { return {kPreamble, kStartCode1, kStartCode2, 0xFF, 0x00, kPostamble}; }

Bytes pn532_error_frame() {
  return {kPreamble, kStartCode1, kStartCode2, 0x01, 0xFF, kPn532ErrorTfi, 0x81, kPostamble};
}

Result<Bytes> pn532_information_frame(std::uint8_t tfi, ByteView data) {
  if (data.empty() || data.size() > kPn532MaxFrameData) {
    return make_error(ErrorCode::kInvalidArgument,
                      "PN532 frame body of " + std::to_string(data.size()) + " bytes");
  }
  Bytes body;
  body.reserve(data.size() + 1);
  body.push_back(tfi);
  body.insert(body.end(), data.begin(), data.end());

  Bytes frame{kPreamble, kStartCode1, kStartCode2};
  if (data.size() <= kPn532MaxNormalFrameData) {
    const auto len = static_cast<std::uint8_t>(body.size());
    frame.push_back(len);
    frame.push_back(static_cast<std::uint8_t>(0x100 - len));
  } else {
    const auto len_high = static_cast<std::uint8_t>(body.size() >> 8);
    const auto len_low = static_cast<std::uint8_t>(body.size() & 0xFF);
    frame.insert(frame.end(), {0xFF, 0xFF, len_high, len_low});
    frame.push_back(static_cast<std::uint8_t>(0x100 - ((len_high + len_low) & 0xFF)));
  }
  frame.insert(frame.end(), body.begin(), body.end());
  frame.push_back(checksum_of(body));
  frame.push_back(kPostamble);
  return frame;
}

}  // namespace faregate::simulator
