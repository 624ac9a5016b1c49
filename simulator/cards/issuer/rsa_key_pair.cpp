#include "simulator/cards/issuer/rsa_key_pair.h"

#include <mbedtls/rsa.h>

#include <utility>

namespace faregate::sim::issuer {

void RsaKeyPair::ContextDeleter::operator()(mbedtls_rsa_context* ctx) const {
  mbedtls_rsa_free(ctx);  // wipes the private parts
  delete ctx;
}

RsaKeyPair::RsaKeyPair(std::unique_ptr<mbedtls_rsa_context, ContextDeleter> ctx,
                       emv::oda::RsaPublicKey public_key)
    : ctx_(std::move(ctx)), public_key_(std::move(public_key)) {}
RsaKeyPair::RsaKeyPair(RsaKeyPair&&) noexcept = default;
RsaKeyPair& RsaKeyPair::operator=(RsaKeyPair&&) noexcept = default;
RsaKeyPair::~RsaKeyPair() = default;

Result<RsaKeyPair> RsaKeyPair::generate(crypto::Drbg& drbg, unsigned bits, unsigned exponent) {
  if (bits % 8 != 0 || bits < 512 || bits > 1984) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "EMV RSA keys are 512..1984 bits in whole bytes, not " + std::to_string(bits));
  }
  if (exponent != 3 && exponent != 65537) {
    return make_error(ErrorCode::kInvalidArgument, "EMV RSA exponents are 3 or 65537");
  }
  std::unique_ptr<mbedtls_rsa_context, ContextDeleter> ctx(new mbedtls_rsa_context);
  mbedtls_rsa_init(ctx.get(), MBEDTLS_RSA_PKCS_V15, 0);
  if (mbedtls_rsa_gen_key(ctx.get(), &crypto::Drbg::mbedtls_rng, &drbg, bits,
                          static_cast<int>(exponent)) != 0) {
    return make_error(ErrorCode::kCrypto, "RSA key generation failed");
  }
  emv::oda::RsaPublicKey public_key;
  public_key.modulus.resize(mbedtls_rsa_get_len(ctx.get()));
  public_key.exponent = exponent == 3 ? Bytes{0x03} : Bytes{0x01, 0x00, 0x01};
  if (public_key.modulus.size() != bits / 8 ||
      mbedtls_rsa_export_raw(ctx.get(), public_key.modulus.data(), public_key.modulus.size(),
                             nullptr, 0, nullptr, 0, nullptr, 0, nullptr, 0) != 0) {
    return make_error(ErrorCode::kCrypto, "cannot export the RSA modulus");
  }
  return RsaKeyPair(std::move(ctx), std::move(public_key));
}

Result<Bytes> RsaKeyPair::private_operation(ByteView block, crypto::Drbg& drbg) const {
  if (block.size() != size()) {
    return make_error(ErrorCode::kInvalidArgument, "RSA block of " + std::to_string(block.size()) +
                                                       " bytes for a " + std::to_string(size()) +
                                                       "-byte modulus");
  }
  Bytes out(size());
  if (mbedtls_rsa_private(ctx_.get(), &crypto::Drbg::mbedtls_rng, &drbg, block.data(),
                          out.data()) != 0) {
    return make_error(ErrorCode::kCrypto, "RSA private operation failed");
  }
  return out;
}

}  // namespace faregate::sim::issuer
