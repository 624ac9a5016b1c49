#include "common/crypto.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/sha256.h>

#include <cstring>
#include <stdexcept>

namespace faregate::crypto {

Sha256Digest sha256(ByteView data) {
  Sha256Digest out{};
  // mbedtls_sha256_ret cannot fail for in-memory input with a valid output buffer.
  mbedtls_sha256_ret(data.data(), data.size(), out.data(), 0);
  return out;
}

Result<Sha256Digest> hmac_sha256(ByteView key, ByteView data) {
  if (key.empty()) return make_error(ErrorCode::kInvalidArgument, "HMAC key is empty");
  Sha256Digest out{};
  const mbedtls_md_info_t* info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  if (mbedtls_md_hmac(info, key.data(), key.size(), data.data(), data.size(), out.data()) != 0) {
    return make_error(ErrorCode::kCrypto, "mbedtls_md_hmac failed");
  }
  return out;
}

bool equal_constant_time(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

struct Drbg::State {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  std::uint64_t seed = 0;
  bool deterministic = false;
  State() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
  }
  ~State() {
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

namespace {
// Entropy callback for deterministic generators: expands the seed into the requested bytes with
// SHA-256 in counter mode. Only ever used for tests and simulations, never for real keys.
int seeded_entropy(void* p, unsigned char* out, std::size_t len) {
  auto* seed = static_cast<std::uint64_t*>(p);
  std::size_t done = 0;
  for (std::uint32_t counter = 0; done < len; ++counter) {
    unsigned char block[12];
    std::memcpy(block, seed, sizeof(*seed));
    std::memcpy(block + 8, &counter, sizeof(counter));
    const Sha256Digest d = sha256(ByteView(block, sizeof(block)));
    const std::size_t n = std::min(len - done, d.size());
    std::memcpy(out + done, d.data(), n);
    done += n;
  }
  return 0;
}
}  // namespace

Drbg::Drbg(std::unique_ptr<State> state) : state_(std::move(state)) {}
Drbg::Drbg(Drbg&&) noexcept = default;
Drbg& Drbg::operator=(Drbg&&) noexcept = default;
Drbg::~Drbg() = default;

Result<Drbg> Drbg::from_system_entropy(std::string_view personalization) {
  auto state = std::make_unique<State>();
  const int rc = mbedtls_ctr_drbg_seed(
      &state->drbg, mbedtls_entropy_func, &state->entropy,
      reinterpret_cast<const unsigned char*>(personalization.data()), personalization.size());
  if (rc != 0) return make_error(ErrorCode::kCrypto, "cannot seed CTR_DRBG from system entropy");
  return Drbg(std::move(state));
}

Drbg Drbg::deterministic(std::uint64_t seed) {
  auto state = std::make_unique<State>();
  state->seed = seed;
  state->deterministic = true;
  if (mbedtls_ctr_drbg_seed(&state->drbg, seeded_entropy, &state->seed, nullptr, 0) != 0) {
    throw std::logic_error("CTR_DRBG refused a deterministic seed");  // cannot happen
  }
  return Drbg(std::move(state));
}

Status Drbg::fill(std::span<std::uint8_t> out) {
  // CTR_DRBG hands out at most MBEDTLS_CTR_DRBG_MAX_REQUEST bytes per call.
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min<std::size_t>(out.size() - done, MBEDTLS_CTR_DRBG_MAX_REQUEST);
    if (mbedtls_ctr_drbg_random(&state_->drbg, out.data() + done, n) != 0) {
      return make_error(ErrorCode::kCrypto, "CTR_DRBG failed");
    }
    done += n;
  }
  return {};
}

Result<Bytes> Drbg::bytes(std::size_t count) {
  Bytes out(count);
  if (auto s = fill(out); !s) return std::unexpected(s.error());
  return out;
}

std::uint64_t Drbg::uniform(std::uint64_t bound) {
  if (bound <= 1) return 0;
  // Rejection sampling keeps the distribution exact.
  const std::uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
  for (;;) {
    std::uint64_t v = 0;
    (void)fill(std::span(reinterpret_cast<std::uint8_t*>(&v), sizeof(v)));
    if (v < limit) return v % bound;
  }
}

int Drbg::mbedtls_rng(void* self, unsigned char* out, std::size_t len) {
  return mbedtls_ctr_drbg_random(&static_cast<Drbg*>(self)->state_->drbg, out, len);
}

}  // namespace faregate::crypto
