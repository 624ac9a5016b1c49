#include "firmware/update/image_format.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace faregate::update {

namespace {

// Field offsets; the table in docs/firmware_image.md is the reference.
constexpr std::size_t kMagicAt = 0;
constexpr std::size_t kFormatVersionAt = 4;
constexpr std::size_t kHeaderLengthAt = 6;
constexpr std::size_t kFirmwareVersionAt = 8;
constexpr std::size_t kSecurityCounterAt = 40;
constexpr std::size_t kPayloadLengthAt = 48;
constexpr std::size_t kPayloadSha256At = 56;
constexpr std::size_t kSignerKeyIdAt = 88;
constexpr std::size_t kReservedAt = 120;
constexpr std::size_t kReservedBytes = 8;
constexpr std::size_t kHeaderCheckAt = 128;

void put_le(Bytes& out, std::size_t at, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) out[at + i] = static_cast<std::uint8_t>(value >> (8 * i));
}

std::uint64_t get_le(ByteView in, std::size_t at, std::size_t width) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) value |= std::uint64_t{in[at + i]} << (8 * i);
  return value;
}

bool printable(char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

Status check_firmware_version(std::string_view version) {
  if (version.empty() || version.size() > kFirmwareVersionMaxChars) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("firmware version must be 1 to {} characters", kFirmwareVersionMaxChars));
  }
  if (!std::all_of(version.begin(), version.end(), printable)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "firmware version must be printable ASCII without spaces");
  }
  return {};
}

Bytes encode_header(const ImageHeader& header) {
  Bytes out(kImageHeaderBytes, 0);
  std::copy(kImageMagic.begin(), kImageMagic.end(), out.begin() + kMagicAt);
  put_le(out, kFormatVersionAt, kImageFormatVersion, 2);
  put_le(out, kHeaderLengthAt, kImageHeaderBytes, 2);
  const std::size_t n = std::min(header.firmware_version.size(), kFirmwareVersionMaxChars);
  std::memcpy(out.data() + kFirmwareVersionAt, header.firmware_version.data(), n);
  put_le(out, kSecurityCounterAt, header.security_counter, 8);
  put_le(out, kPayloadLengthAt, header.payload_length, 8);
  std::copy(header.payload_sha256.begin(), header.payload_sha256.end(),
            out.begin() + kPayloadSha256At);
  std::copy(header.signer_key_id.begin(), header.signer_key_id.end(), out.begin() + kSignerKeyIdAt);
  const auto check = crypto::sha256(ByteView(out.data(), kHeaderCheckAt));
  std::copy(check.begin(), check.end(), out.begin() + kHeaderCheckAt);
  return out;
}

Result<ImageHeader> parse_header(ByteView bytes) {
  if (bytes.size() < kImageHeaderBytes) {
    return make_error(ErrorCode::kCorrupt,
                      fmt::format("image truncated: {} bytes, the header alone needs {}",
                                  bytes.size(), kImageHeaderBytes));
  }
  if (!std::equal(kImageMagic.begin(), kImageMagic.end(), bytes.begin() + kMagicAt)) {
    return make_error(ErrorCode::kCorrupt, "not a Faregate firmware image (bad magic)");
  }
  if (const auto v = get_le(bytes, kFormatVersionAt, 2); v != kImageFormatVersion) {
    return make_error(ErrorCode::kCorrupt,
                      fmt::format("unsupported image format version {} (this build reads {})", v,
                                  kImageFormatVersion));
  }
  if (const auto len = get_le(bytes, kHeaderLengthAt, 2); len != kImageHeaderBytes) {
    return make_error(ErrorCode::kCorrupt, fmt::format("header length {} where format 1 has {}",
                                                       len, kImageHeaderBytes));
  }
  // The header check is not a security control (the signature is): it lets a technician tell a
  // damaged or edited header apart from an image signed with another key.
  const auto check = crypto::sha256(bytes.first(kHeaderCheckAt));
  if (!std::equal(check.begin(), check.end(), bytes.begin() + kHeaderCheckAt)) {
    return make_error(ErrorCode::kCorrupt,
                      "header check failed: the header was damaged or altered");
  }

  ImageHeader header;
  const auto version_field = bytes.subspan(kFirmwareVersionAt, kFirmwareVersionMaxChars);
  const auto nul = std::find(version_field.begin(), version_field.end(), std::uint8_t{0});
  header.firmware_version.assign(version_field.begin(), nul);
  if (!check_firmware_version(header.firmware_version) ||
      !std::all_of(nul, version_field.end(), [](std::uint8_t b) { return b == 0; })) {
    return make_error(ErrorCode::kCorrupt,
                      "firmware version field is not NUL-padded printable ASCII");
  }
  const auto reserved = bytes.subspan(kReservedAt, kReservedBytes);
  if (!std::all_of(reserved.begin(), reserved.end(), [](std::uint8_t b) { return b == 0; })) {
    return make_error(ErrorCode::kCorrupt, "reserved header bytes are not zero");
  }
  header.security_counter = get_le(bytes, kSecurityCounterAt, 8);
  header.payload_length = get_le(bytes, kPayloadLengthAt, 8);
  if (header.payload_length > kMaxPayloadBytes) {
    return make_error(ErrorCode::kCorrupt,
                      fmt::format("payload length {} exceeds the {} byte limit",
                                  header.payload_length, kMaxPayloadBytes));
  }
  std::copy_n(bytes.begin() + kPayloadSha256At, header.payload_sha256.size(),
              header.payload_sha256.begin());
  std::copy_n(bytes.begin() + kSignerKeyIdAt, header.signer_key_id.size(),
              header.signer_key_id.begin());
  return header;
}

Result<ImageParts> parse_image(ByteView image) {
  auto header = parse_header(image);
  if (!header) return std::unexpected(header.error());
  // payload_length <= kMaxPayloadBytes, so this sum cannot overflow.
  const std::uint64_t signed_bytes = kImageHeaderBytes + header->payload_length;
  if (image.size() < signed_bytes + kMinSignatureBytes) {
    return make_error(ErrorCode::kCorrupt,
                      fmt::format("image truncated: {} bytes, header announces {} bytes of payload "
                                  "plus a signature",
                                  image.size(), header->payload_length));
  }
  const std::size_t signature_bytes = image.size() - signed_bytes;
  if (signature_bytes > kMaxSignatureBytes) {
    return make_error(ErrorCode::kCorrupt,
                      fmt::format("{} bytes after the payload, a P-256 signature has at most {}: "
                                  "bytes were added or the length field was altered",
                                  signature_bytes, kMaxSignatureBytes));
  }
  ImageParts parts;
  parts.header = std::move(*header);
  parts.signed_region = image.first(signed_bytes);
  parts.payload = image.subspan(kImageHeaderBytes, parts.header.payload_length);
  parts.signature = image.subspan(signed_bytes);
  return parts;
}

std::string short_key_id(const KeyId& id) { return to_hex(ByteView(id.data(), 8)); }

}  // namespace faregate::update
