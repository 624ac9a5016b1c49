#pragma once
// Length-delimited framing for the sync protocol: varint(length) + message bytes.
//
// The reader is built for hostile input: it checks the announced length against a maximum before
// it buffers or allocates anything for the body, handles frames split across any number of
// reads, and reports truncated, oversized and unparseable frames as typed errors. It depends only
// on protobuf so that both the validator and the back office can use it.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <google/protobuf/message_lite.h>

namespace faregate::framing {

// Large enough for a TapBatch of several thousand taps, small enough that a hostile length
// prefix cannot make a server reserve much memory.
inline constexpr std::size_t kDefaultMaxFrameBytes = 4 * 1024 * 1024;
// A 64-bit varint never needs more than 10 bytes.
inline constexpr std::size_t kMaxVarintBytes = 10;

enum class FrameError {
  kTooLarge,       // the length prefix announces more than the maximum frame size
  kBadLength,      // the length prefix is not a valid varint (too long, overflows)
  kTruncated,      // the stream ended in the middle of a frame
  kBadMessage,     // the body is not a valid serialized message of the expected type
  kEmptyMessage,   // a body parsed, but carries none of the envelope's fields
};

std::string_view to_string(FrameError error);

// Serializes message and prepends its length. Returns false only if serialization fails.
bool encode_frame(const google::protobuf::MessageLite& message, std::string& out);
std::string encode_frame(const google::protobuf::MessageLite& message);

// Parses one frame body into message. Unknown fields are kept.
std::expected<void, FrameError> parse_body(std::string_view body,
                                           google::protobuf::MessageLite& message);

// Accumulates bytes as they arrive from a stream and yields complete frame bodies.
//
//   FrameReader reader(max);
//   reader.append(chunk);
//   while (auto body = reader.next()) { if (!*body) break; ... use **body ... }
//
// After an error the reader is poisoned: every later next() returns the same error, because a
// stream that lost its framing cannot be resynchronised safely.
class FrameReader {
 public:
  explicit FrameReader(std::size_t max_frame_bytes = kDefaultMaxFrameBytes)
      : max_frame_bytes_(max_frame_bytes) {}

  // Adds received bytes. Returns the error early (before buffering) when the length prefix now
  // visible announces a frame over the limit.
  std::expected<void, FrameError> append(std::span<const std::uint8_t> bytes);
  std::expected<void, FrameError> append(std::string_view bytes);

  // nullopt: no complete frame yet. A value: the next frame body (valid until the next call to
  // append or next) or an error.
  std::optional<std::expected<std::string_view, FrameError>> next();

  // Call when the stream reached its end: kTruncated if a partial frame is buffered.
  std::expected<void, FrameError> finish() const;

  // Bytes buffered but not yet returned as frames.
  std::size_t buffered() const { return buffer_.size() - consumed_; }
  // How many more bytes the reader needs before next() can yield (at least 1), for sizing reads.
  std::size_t wanted() const;

 private:
  struct Header {
    std::size_t prefix_bytes;
    std::size_t body_bytes;
  };
  // nullopt while the prefix is incomplete.
  std::optional<std::expected<Header, FrameError>> peek_header() const;
  void compact();

  std::size_t max_frame_bytes_;
  std::string buffer_;
  std::size_t consumed_ = 0;
  std::optional<FrameError> poisoned_;
};

}  // namespace faregate::framing
