#pragma once
// Builds a signed firmware image from a validator program (used by faregate-sign and tests).

#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"
#include "firmware/update/signing_key.h"

namespace faregate::update {

struct ImageSpec {
  std::string firmware_version;        // see check_firmware_version
  std::uint64_t security_counter = 0;  // raise it for releases that fix a vulnerability
};

// Returns header + payload + DER signature. Fails (kInvalidArgument) on a bad version string or
// a payload over kMaxPayloadBytes.
Result<Bytes> build_signed_image(const ImageSpec& spec, ByteView payload, const SigningKey& key,
                                 crypto::Drbg& rng);

}  // namespace faregate::update
