#include "firmware/emv/oda/sha1.h"

#include <mbedtls/sha1.h>

namespace faregate::emv::oda {

namespace {
class Sha1Context {
 public:
  Sha1Context() { mbedtls_sha1_init(&ctx_); }
  ~Sha1Context() { mbedtls_sha1_free(&ctx_); }
  Sha1Context(const Sha1Context&) = delete;
  Sha1Context& operator=(const Sha1Context&) = delete;
  mbedtls_sha1_context* get() { return &ctx_; }

 private:
  mbedtls_sha1_context ctx_;
};
}  // namespace

Sha1Digest sha1(std::initializer_list<ByteView> parts) {
  Sha1Context ctx;
  Sha1Digest out{};
  // The _ret functions cannot fail for in-memory input with the software implementation; the
  // return codes exist for hardware accelerators, which Faregate does not configure.
  (void)mbedtls_sha1_starts_ret(ctx.get());
  for (ByteView part : parts) {
    if (!part.empty()) (void)mbedtls_sha1_update_ret(ctx.get(), part.data(), part.size());
  }
  (void)mbedtls_sha1_finish_ret(ctx.get(), out.data());
  return out;
}

}  // namespace faregate::emv::oda
