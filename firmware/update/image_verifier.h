#pragma once
// Decides whether an image may run: well formed, signed by the trusted key, payload intact, and
// (separately, because it depends on the device) not older than the device's security counter.
// Each refusal has its own message so that a technician knows what happened:
//   damaged/altered header or payload, wrong signing key, bad signature, security counter rollback.

#include <cstdint>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"
#include "firmware/update/image_format.h"
#include "firmware/update/signing_key.h"

namespace faregate::update {

struct VerifiedImage {
  ImageHeader header;
  ByteView payload;                   // view into the verified buffer
  crypto::Sha256Digest image_sha256;  // of the whole image: its identity in the boot state
};

// Returns the image's parts if `image` is well formed and signed by `trusted`. Errors:
//   kCorrupt  malformed, damaged or altered header, payload not matching its hash;
//   kCrypto   signed by another key ("signed by a different key"), or signature does not verify.
Result<VerifiedImage> verify_image(ByteView image, const PublicKey& trusted);

// Returns kConflict if `header` is older than `lowest_allowed` (the highest security counter the
// device has confirmed): installing it would re-open vulnerabilities that were fixed.
Status check_security_counter(const ImageHeader& header, std::uint64_t lowest_allowed);

}  // namespace faregate::update
