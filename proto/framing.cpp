#include "proto/framing.h"

#include <google/protobuf/io/coded_stream.h>

namespace faregate::framing {

std::string_view to_string(FrameError error) {
  switch (error) {
    case FrameError::kTooLarge: return "frame_too_large";
    case FrameError::kBadLength: return "bad_length_prefix";
    case FrameError::kTruncated: return "truncated_frame";
    case FrameError::kBadMessage: return "bad_message";
    case FrameError::kEmptyMessage: return "empty_message";
  }
  return "unknown_frame_error";
}

bool encode_frame(const google::protobuf::MessageLite& message, std::string& out) {
  const std::size_t size = message.ByteSizeLong();
  std::uint8_t prefix[kMaxVarintBytes];
  std::uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(size, prefix);
  out.append(reinterpret_cast<const char*>(prefix), static_cast<std::size_t>(end - prefix));
  return message.AppendToString(&out);
}

std::string encode_frame(const google::protobuf::MessageLite& message) {
  std::string out;
  if (!encode_frame(message, out)) out.clear();
  return out;
}

std::expected<void, FrameError> parse_body(std::string_view body,
                                           google::protobuf::MessageLite& message) {
  if (body.size() > static_cast<std::size_t>(INT32_MAX)) return std::unexpected(FrameError::kTooLarge);
  if (!message.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return std::unexpected(FrameError::kBadMessage);
  }
  return {};
}

std::expected<void, FrameError> FrameReader::append(std::span<const std::uint8_t> bytes) {
  return append(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::expected<void, FrameError> FrameReader::append(std::string_view bytes) {
  if (poisoned_) return std::unexpected(*poisoned_);
  compact();
  buffer_.append(bytes);
  // Check the limit as soon as the prefix is readable, so an attacker cannot make us hold a
  // large partial body before we notice.
  if (auto header = peek_header(); header && !*header) {
    poisoned_ = header->error();
    return std::unexpected(*poisoned_);
  }
  return {};
}

std::optional<std::expected<FrameReader::Header, FrameError>> FrameReader::peek_header() const {
  std::uint64_t value = 0;
  const std::size_t available = buffer_.size() - consumed_;
  for (std::size_t i = 0; i < available; ++i) {
    if (i >= kMaxVarintBytes) return std::unexpected(FrameError::kBadLength);
    const auto byte = static_cast<std::uint8_t>(buffer_[consumed_ + i]);
    // The tenth byte may only carry the single top bit of a 64-bit value.
    if (i == kMaxVarintBytes - 1 && byte > 1) return std::unexpected(FrameError::kBadLength);
    value |= static_cast<std::uint64_t>(byte & 0x7F) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (value > max_frame_bytes_) return std::unexpected(FrameError::kTooLarge);
      return Header{i + 1, static_cast<std::size_t>(value)};
    }
  }
  if (available >= kMaxVarintBytes) return std::unexpected(FrameError::kBadLength);
  return std::nullopt;
}

std::optional<std::expected<std::string_view, FrameError>> FrameReader::next() {
  if (poisoned_) return std::unexpected(*poisoned_);
  auto header = peek_header();
  if (!header) return std::nullopt;
  if (!*header) {
    poisoned_ = header->error();
    return std::unexpected(*poisoned_);
  }
  const Header h = **header;
  if (buffer_.size() - consumed_ < h.prefix_bytes + h.body_bytes) return std::nullopt;
  const std::string_view body(buffer_.data() + consumed_ + h.prefix_bytes, h.body_bytes);
  consumed_ += h.prefix_bytes + h.body_bytes;
  return body;
}

std::expected<void, FrameError> FrameReader::finish() const {
  if (poisoned_) return std::unexpected(*poisoned_);
  if (buffered() != 0) return std::unexpected(FrameError::kTruncated);
  return {};
}

std::size_t FrameReader::wanted() const {
  auto header = peek_header();
  if (!header || !*header) return 1;
  const std::size_t total = (*header)->prefix_bytes + (*header)->body_bytes;
  const std::size_t have = buffer_.size() - consumed_;
  return total > have ? total - have : 1;
}

void FrameReader::compact() {
  // Drop bytes of frames already handed out; bodies returned earlier become invalid here, as the
  // contract of next() says.
  if (consumed_ == 0) return;
  buffer_.erase(0, consumed_);
  consumed_ = 0;
}

}  // namespace faregate::framing
