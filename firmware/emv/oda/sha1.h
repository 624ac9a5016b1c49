#pragma once
// SHA-1, the only hash EMV Book 2 offline data authentication uses (hash algorithm indicator
// 01), computed by mbedTLS. Not for anything else in Faregate: use SHA-256 there.

#include <array>
#include <cstdint>
#include <initializer_list>

#include "common/bytes.h"

namespace faregate::emv::oda {

inline constexpr std::size_t kSha1Bytes = 20;
using Sha1Digest = std::array<std::uint8_t, kSha1Bytes>;

// SHA-1 over the concatenation of `parts`, left to right.
Sha1Digest sha1(std::initializer_list<ByteView> parts);

}  // namespace faregate::emv::oda
