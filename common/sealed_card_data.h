#pragma once
// Card data sealed into a tap record (TapRecord.sealed_card_data): the validator seals a
// CardAuthorizationData for the back office; only the back office's private key opens it.
// The box (common/sealed_box.h) is bound to its record by the associated data
//   "faregate tap v1" || 0x00 || device_id || 0x00 || card_token
// so that a box copied into another device's record, or next to another card's token, does not
// open. docs/sealed_card_data.md describes the format.

#include <string_view>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/sealed_box.h"
#include "faregate/v1/tap.pb.h"

namespace faregate::sealed_card_data {

Bytes associated_data(std::string_view device_id, std::string_view card_token);

// Serializes `data`, seals it for `recipient` and wipes every clear copy it made (the caller
// wipes `data` itself). Errors: those of sealed_box::seal.
Result<Bytes> seal(const faregate::v1::CardAuthorizationData& data, std::string_view device_id,
                   std::string_view card_token, const sealed_box::PublicKey& recipient,
                   crypto::Drbg& drbg);

// The same with the key agreement prepared ahead of time (sealed_box::prepare_seal).
Result<Bytes> seal(const faregate::v1::CardAuthorizationData& data, std::string_view device_id,
                   std::string_view card_token, sealed_box::PreparedSeal prepared);

// Opens the sealed card data of `record`. kNotFound if the record has none; kCrypto if the box
// does not open with `key` (wrong key, altered box, box moved to another record); kCorrupt if
// it opens but does not parse.
Result<faregate::v1::CardAuthorizationData> open(const faregate::v1::TapRecord& record,
                                                 const sealed_box::PrivateKey& key);

// Wipes the PAN held in `data` (protobuf strings are not wiped when freed).
void wipe(faregate::v1::CardAuthorizationData& data);

}  // namespace faregate::sealed_card_data
