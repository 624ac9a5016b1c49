#include "common/sealed_card_data.h"

#include <mbedtls/platform_util.h>

namespace faregate::sealed_card_data {

namespace {
constexpr std::string_view kContext = "faregate tap v1";
}

Bytes associated_data(std::string_view device_id, std::string_view card_token) {
  std::string joined(kContext);
  joined.push_back('\0');
  joined.append(device_id);
  joined.push_back('\0');
  joined.append(card_token);
  return Bytes(joined.begin(), joined.end());
}

Result<Bytes> seal(const faregate::v1::CardAuthorizationData& data, std::string_view device_id,
                   std::string_view card_token, const sealed_box::PublicKey& recipient,
                   crypto::Drbg& drbg) {
  std::string clear = data.SerializeAsString();
  auto box = sealed_box::seal(as_bytes(clear), associated_data(device_id, card_token), recipient,
                              drbg);
  mbedtls_platform_zeroize(clear.data(), clear.size());
  return box;
}

Result<Bytes> seal(const faregate::v1::CardAuthorizationData& data, std::string_view device_id,
                   std::string_view card_token, sealed_box::PreparedSeal prepared) {
  std::string clear = data.SerializeAsString();
  auto box = sealed_box::seal(std::move(prepared), as_bytes(clear),
                              associated_data(device_id, card_token));
  mbedtls_platform_zeroize(clear.data(), clear.size());
  return box;
}

Result<faregate::v1::CardAuthorizationData> open(const faregate::v1::TapRecord& record,
                                                 const sealed_box::PrivateKey& key) {
  if (record.sealed_card_data().empty()) {
    return make_error(ErrorCode::kNotFound, "the tap record carries no sealed card data");
  }
  auto clear = sealed_box::open(as_bytes(record.sealed_card_data()),
                                associated_data(record.device_id(), record.card_token()), key);
  if (!clear) return std::unexpected(clear.error());
  faregate::v1::CardAuthorizationData data;
  const bool parsed = data.ParseFromArray(clear->data(), static_cast<int>(clear->size()));
  mbedtls_platform_zeroize(clear->data(), clear->size());
  if (!parsed) return make_error(ErrorCode::kCorrupt, "sealed card data does not parse");
  return data;
}

void wipe(faregate::v1::CardAuthorizationData& data) {
  mbedtls_platform_zeroize(data.mutable_pan()->data(), data.pan().size());
  data.clear_pan();
}

}  // namespace faregate::sealed_card_data
