#pragma once
// CardToken: the card identity the fare engine groups taps by. In production it is the 32-byte
// HMAC card token the validators compute (docs/card_token.md); tools and tests may use shorter
// byte strings. Fixed size, no allocation: the engine holds millions of them.

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"

namespace faregate::fares {

class CardToken {
 public:
  static constexpr std::size_t kMaxSize = 32;
  CardToken() = default;
  // Fails when bytes is empty or longer than kMaxSize.
  static Result<CardToken> from_bytes(ByteView bytes);
  // Lower- or upper-case hex of 1..32 bytes.
  static Result<CardToken> from_hex(std::string_view hex);

  ByteView bytes() const { return {bytes_.data(), size_}; }
  std::size_t size() const { return size_; }
  std::string hex() const { return to_hex(bytes()); }
  // The first 8 bytes as an integer: tokens are HMAC outputs, so this orders and hashes well.
  std::uint64_t prefix() const {
    std::uint64_t p = 0;
    std::memcpy(&p, bytes_.data(), sizeof p);
    return p;
  }

  friend bool operator==(const CardToken& a, const CardToken& b) {
    return a.size_ == b.size_ && std::memcmp(a.bytes_.data(), b.bytes_.data(), a.size_) == 0;
  }
  friend bool operator<(const CardToken& a, const CardToken& b) {
    const int c = std::memcmp(a.bytes_.data(), b.bytes_.data(), kMaxSize);
    return c != 0 ? c < 0 : a.size_ < b.size_;
  }

 private:
  std::array<std::uint8_t, kMaxSize> bytes_{};  // zero-padded past size_
  std::uint8_t size_ = 0;
};

struct CardTokenHash {
  std::size_t operator()(const CardToken& t) const {
    // Production tokens are HMAC outputs: their first 8 bytes already spread well. Shorter or
    // hand-made tokens (tools, tests) get FNV-1a over every byte.
    if (t.size() == CardToken::kMaxSize) return static_cast<std::size_t>(t.prefix() * 0x9E3779B97F4A7C15ull);
    std::uint64_t h = 1469598103934665603ull;
    for (std::uint8_t b : t.bytes()) h = (h ^ b) * 1099511628211ull;
    return static_cast<std::size_t>(h);
  }
};

}  // namespace faregate::fares
