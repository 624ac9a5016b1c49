#include "backoffice/fares/card_token.h"

namespace faregate::fares {

Result<CardToken> CardToken::from_bytes(ByteView bytes) {
  if (bytes.empty() || bytes.size() > kMaxSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "card token must be 1 to " + std::to_string(kMaxSize) + " bytes, got " +
                          std::to_string(bytes.size()));
  }
  CardToken t;
  std::memcpy(t.bytes_.data(), bytes.data(), bytes.size());
  t.size_ = static_cast<std::uint8_t>(bytes.size());
  return t;
}

Result<CardToken> CardToken::from_hex(std::string_view hex) {
  auto bytes = faregate::from_hex(hex);
  if (!bytes) return std::unexpected(bytes.error());
  return from_bytes(*bytes);
}

}  // namespace faregate::fares
