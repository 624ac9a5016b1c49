#pragma once
// The PN532 host-interface frame format, both directions, as Debian's libnfc 1.8.0 (pn532_uart)
// writes and reads it. Frame layouts are in docs/virtual_pn532.md; in short:
//
//   normal       00 00 FF LEN LCS TFI data... DCS 00            LEN = 1 + data, LEN + LCS = 0
//   extended     00 00 FF FF FF LENm LENl LCS TFI data... DCS 00  LENm + LENl + LCS = 0
//   ACK / NACK   00 00 FF 00 FF 00 / 00 00 FF FF 00 00
//   error        00 00 FF 01 FF 7F 81 00                         (application-level error)
//
// with TFI + sum(data) + DCS = 0 (mod 256), TFI D4 from the host and D5 from the chip. Everything
// here is pure: no I/O, no threads.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/error.h"

namespace faregate::simulator {

inline constexpr std::uint8_t kPn532HostToChip = 0xD4;
inline constexpr std::uint8_t kPn532ChipToHost = 0xD5;
// The "TFI" of the application-level error frame.
inline constexpr std::uint8_t kPn532ErrorTfi = 0x7F;
// Largest frame body after the TFI (command or response code + parameters), either direction.
inline constexpr std::size_t kPn532MaxFrameData = 264;
// Bodies after the TFI up to this size travel in a normal frame, longer ones in an extended frame.
inline constexpr std::size_t kPn532MaxNormalFrameData = 254;

enum class Pn532FrameKind {
  kInformation,  // a normal or extended frame: `tfi` and `data` are set
  kAck,          // from the host: abort the command in progress; from the chip: command taken
  kNack,         // from the host: send the last response again
  kError,        // the application-level error frame (body 7F)
  kInvalid,      // a start code followed by a bad length, length checksum or data checksum
};

struct Pn532Frame {
  Pn532FrameKind kind = Pn532FrameKind::kInvalid;
  std::uint8_t tfi = 0;
  Bytes data;  // after the TFI: command or response code, then parameters
};

// Cuts a byte stream into frames. Bytes outside frames (the host's 55 55 00 00 ... wake-up
// sequence, postambles, line noise) are skipped; a frame whose checksums fail is reported as
// kInvalid and scanning resumes right after its start code, so that a real frame hidden behind
// garbage is still found. Never fails and never asserts on its input.
class Pn532FrameParser {
 public:
  // Appends bytes as they arrive; they may split frames anywhere.
  void feed(ByteView bytes);

  // Returns the next complete frame, or nullopt when more bytes are needed.
  std::optional<Pn532Frame> next();

  // True when a start code has been seen but its frame is not complete yet.
  bool has_partial_frame() const;

  // Gives up on the incomplete frame at the front (the line went quiet in the middle of it, as a
  // UART's inter-byte timeout would notice) and rescans from the byte after its start code.
  void drop_partial_frame();

  // Bytes skipped outside frames, and frames dropped as invalid, since construction.
  std::size_t skipped_bytes() const { return skipped_bytes_; }
  std::size_t invalid_frames() const { return invalid_frames_; }

 private:
  Bytes buffer_;
  std::size_t skipped_bytes_ = 0;
  std::size_t invalid_frames_ = 0;
};

// 00 00 FF 00 FF 00
Bytes pn532_ack_frame();
// 00 00 FF FF 00 00
Bytes pn532_nack_frame();
// 00 00 FF 01 FF 7F 81 00
Bytes pn532_error_frame();

// Builds a normal frame, or an extended one when `data` is longer than kPn532MaxNormalFrameData.
// `data` is what follows the TFI (command or response code, then parameters).
// Errors: kInvalidArgument if `data` is empty or longer than kPn532MaxFrameData.
Result<Bytes> pn532_information_frame(std::uint8_t tfi, ByteView data);

}  // namespace faregate::simulator
