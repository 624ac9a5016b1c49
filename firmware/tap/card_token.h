#pragma once
// The card token: the one card identity the journal, the back office and the deny list use.
//
//   card_token = HMAC-SHA256(card-token key, PAN digits in ASCII || PSN as two ASCII digits)
//
// docs/card_token.md gives the exact input and why it is built that way.

#include <cstdint>

#include "common/crypto.h"
#include "common/error.h"
#include "firmware/emv/sensitive_pan.h"

namespace faregate::tap {

// The shortest card-token key accepted; the network key is 32 bytes.
inline constexpr std::size_t kMinCardTokenKeyBytes = 16;

// Returns the 32-byte token. Errors: kInvalidArgument for an empty PAN or a PSN above 99 (it is
// two BCD digits on the card), kCrypto for a key shorter than kMinCardTokenKeyBytes or an HMAC
// failure. The buffer holding the HMAC input is wiped before returning.
Result<crypto::Sha256Digest> card_token(ByteView key, const emv::SensitivePan& pan,
                                        std::uint8_t psn);

}  // namespace faregate::tap
