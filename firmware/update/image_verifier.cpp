#include "firmware/update/image_verifier.h"

#include <fmt/format.h>

namespace faregate::update {

Result<VerifiedImage> verify_image(ByteView image, const PublicKey& trusted) {
  auto parts = parse_image(image);
  if (!parts) return std::unexpected(parts.error());
  // The key id only picks the message; the signature check below is what decides.
  if (parts->header.signer_key_id != trusted.key_id()) {
    return make_error(
        ErrorCode::kCrypto,
        fmt::format("image signed by a different key (key {}), this device trusts key {}",
                    short_key_id(parts->header.signer_key_id), short_key_id(trusted.key_id())));
  }
  if (crypto::sha256(parts->payload) != parts->header.payload_sha256) {
    return make_error(
        ErrorCode::kCorrupt,
        "payload SHA-256 does not match the header: the payload was damaged or altered");
  }
  if (!trusted.verify_digest(crypto::sha256(parts->signed_region), parts->signature)) {
    return make_error(ErrorCode::kCrypto,
                      "signature does not verify: the image was altered after signing");
  }
  return VerifiedImage{parts->header, parts->payload, crypto::sha256(image)};
}

Status check_security_counter(const ImageHeader& header, std::uint64_t lowest_allowed) {
  if (header.security_counter < lowest_allowed) {
    return make_error(
        ErrorCode::kConflict,
        fmt::format("security counter {} of image {} is lower than {}, the highest this "
                    "device has confirmed: refusing a rollback to an older, possibly "
                    "vulnerable image",
                    header.security_counter, header.firmware_version, lowest_allowed));
  }
  return {};
}

}  // namespace faregate::update
