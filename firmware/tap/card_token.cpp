#include "firmware/tap/card_token.h"

#include <array>
#include <string>

#include <mbedtls/platform_util.h>

namespace faregate::tap {

Result<crypto::Sha256Digest> card_token(ByteView key, const emv::SensitivePan& pan,
                                        std::uint8_t psn) {
  if (pan.empty()) return make_error(ErrorCode::kInvalidArgument, "no PAN to tokenise");
  if (psn > 99) {
    return make_error(ErrorCode::kInvalidArgument, "PSN " + std::to_string(psn) + " above 99");
  }
  if (key.size() < kMinCardTokenKeyBytes) {
    return make_error(ErrorCode::kCrypto, "card-token key of " + std::to_string(key.size()) +
                                              " bytes, at least " +
                                              std::to_string(kMinCardTokenKeyBytes) + " needed");
  }
  // On the stack, not in a std::string: the input holds the PAN and must not be left behind in
  // freed heap memory.
  std::array<std::uint8_t, emv::SensitivePan::kMaxDigits + 2> input{};
  const std::string_view digits = pan.digits();
  std::size_t n = 0;
  for (char c : digits) input[n++] = static_cast<std::uint8_t>(c);
  input[n++] = static_cast<std::uint8_t>('0' + psn / 10);
  input[n++] = static_cast<std::uint8_t>('0' + psn % 10);
  auto token = crypto::hmac_sha256(key, ByteView(input.data(), n));
  mbedtls_platform_zeroize(input.data(), input.size());
  if (!token) return with_context(token.error(), "computing the card token");
  return token;
}

}  // namespace faregate::tap
