#pragma once
// The signed firmware image: a fixed 160-byte header, the payload (the validator program), and
// an ECDSA P-256 signature (DER) over header + payload. Byte layout: docs/firmware_image.md.
// This file only reads and writes the layout; image_verifier.h decides whether to trust it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"

namespace faregate::update {

inline constexpr std::array<std::uint8_t, 4> kImageMagic = {'F', 'G', 'F', 'W'};
inline constexpr std::uint16_t kImageFormatVersion = 1;
inline constexpr std::size_t kImageHeaderBytes = 160;
inline constexpr std::size_t kFirmwareVersionMaxChars = 32;
// A validator program is a few MiB; the cap keeps a hostile length field from driving allocation.
inline constexpr std::uint64_t kMaxPayloadBytes = 256ull * 1024 * 1024;
// A DER ECDSA P-256 signature is SEQUENCE { INTEGER r, INTEGER s }: 8 to 72 bytes.
inline constexpr std::size_t kMinSignatureBytes = 8;
inline constexpr std::size_t kMaxSignatureBytes = 72;
inline constexpr std::uint64_t kMaxImageBytes =
    kImageHeaderBytes + kMaxPayloadBytes + kMaxSignatureBytes;

// SHA-256 of the signer's public key (DER SubjectPublicKeyInfo).
using KeyId = crypto::Sha256Digest;

struct ImageHeader {
  std::string firmware_version;  // 1..32 printable ASCII characters, e.g. "1.4.0-rc1"
  std::uint64_t security_counter = 0;
  std::uint64_t payload_length = 0;
  crypto::Sha256Digest payload_sha256{};
  KeyId signer_key_id{};

  friend bool operator==(const ImageHeader&, const ImageHeader&) = default;
};

// An image split into its parts. Views point into the buffer given to parse_image.
struct ImageParts {
  ImageHeader header;
  ByteView signed_region;  // header + payload: what the signature covers
  ByteView payload;
  ByteView signature;  // DER
};

// Returns ok if `version` can be a firmware version (1..32 printable ASCII, no spaces).
Status check_firmware_version(std::string_view version);

// Serialises a header, header check included. Requires: check_firmware_version(version) passed.
Bytes encode_header(const ImageHeader& header);

// Reads and checks the fixed header (magic, format version, header check, field ranges).
// Accepts any buffer; never trusts a length before checking it. Errors are kCorrupt, each with
// a message naming what is wrong.
Result<ImageHeader> parse_header(ByteView bytes);

// Splits a whole image: header, payload of the announced length, then a signature of
// kMinSignatureBytes..kMaxSignatureBytes to the end of the buffer. Does not check the payload
// hash or the signature (image_verifier.h does).
Result<ImageParts> parse_image(ByteView image);

// Short, readable form of a key id for messages: the first 8 bytes in hex.
std::string short_key_id(const KeyId& id);

}  // namespace faregate::update
