#pragma once
// Thin, checked wrappers over mbedTLS for the primitives the whole project uses. All
// cryptography in Faregate comes from mbedTLS; nothing here implements a primitive itself.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"

namespace faregate::crypto {

inline constexpr std::size_t kSha256Bytes = 32;
using Sha256Digest = std::array<std::uint8_t, kSha256Bytes>;

Sha256Digest sha256(ByteView data);

// HMAC-SHA256(key, data). Requires: key not empty.
Result<Sha256Digest> hmac_sha256(ByteView key, ByteView data);

// Constant-time comparison, for MACs and tokens.
bool equal_constant_time(ByteView a, ByteView b);

// A deterministic random bit generator (mbedTLS CTR_DRBG). Production code seeds it from the
// system entropy source; tests seed it from a number so that runs repeat. Not thread-safe: give
// each thread its own.
class Drbg {
 public:
  // Seeds from mbedTLS's entropy collector (the OS source). Fails only if the OS gives nothing.
  static Result<Drbg> from_system_entropy(std::string_view personalization);
  // Repeatable stream for tests and the simulator: the same seed gives the same bytes.
  static Drbg deterministic(std::uint64_t seed);

  Drbg(Drbg&&) noexcept;
  Drbg& operator=(Drbg&&) noexcept;
  Drbg(const Drbg&) = delete;
  Drbg& operator=(const Drbg&) = delete;
  ~Drbg();

  Status fill(std::span<std::uint8_t> out);
  Result<Bytes> bytes(std::size_t count);
  // Uniform in [0, bound). Requires: bound > 0.
  std::uint64_t uniform(std::uint64_t bound);

  // For mbedTLS APIs that take (f_rng, p_rng).
  static int mbedtls_rng(void* self, unsigned char* out, std::size_t len);

 private:
  struct State;
  explicit Drbg(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace faregate::crypto
