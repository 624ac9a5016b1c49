#include "firmware/update/image_signer.h"

#include <fmt/format.h>

namespace faregate::update {

Result<Bytes> build_signed_image(const ImageSpec& spec, ByteView payload, const SigningKey& key,
                                 crypto::Drbg& rng) {
  if (auto ok = check_firmware_version(spec.firmware_version); !ok) {
    return std::unexpected(ok.error());
  }
  if (payload.size() > kMaxPayloadBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("payload of {} bytes exceeds the {} byte limit", payload.size(),
                                  kMaxPayloadBytes));
  }
  ImageHeader header;
  header.firmware_version = spec.firmware_version;
  header.security_counter = spec.security_counter;
  header.payload_length = payload.size();
  header.payload_sha256 = crypto::sha256(payload);
  header.signer_key_id = key.public_key().key_id();

  Bytes image = encode_header(header);
  image.insert(image.end(), payload.begin(), payload.end());
  auto signature = key.sign_digest(crypto::sha256(image), rng);
  if (!signature) return std::unexpected(signature.error());
  image.insert(image.end(), signature->begin(), signature->end());
  return image;
}

}  // namespace faregate::update
