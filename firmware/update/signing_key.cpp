#include "firmware/update/signing_key.h"

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#include <fstream>
#include <iterator>
#include <vector>

#include <fmt/format.h>

namespace faregate::update {

namespace {

constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

struct Pk {
  Pk() { mbedtls_pk_init(&ctx); }
  ~Pk() { mbedtls_pk_free(&ctx); }
  Pk(const Pk&) = delete;
  Pk& operator=(const Pk&) = delete;
  mbedtls_pk_context ctx;
};

bool is_p256(mbedtls_pk_context& pk) {
  if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY) return false;
  return mbedtls_pk_ec(pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

Result<std::string> read_key_file(const std::filesystem::path& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("cannot read {}: {}", file.string(), ec.message()));
  }
  if (size > kMaxKeyFileBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} is too large for a key file", file.string()));
  }
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return make_error(ErrorCode::kIo, fmt::format("cannot read {}", file.string()));
  }
  return text;
}

Result<KeyId> key_id_of(mbedtls_pk_context& pk) {
  // mbedtls_pk_write_pubkey_der writes at the end of the buffer and returns the length.
  unsigned char der[256];
  const int len = mbedtls_pk_write_pubkey_der(&pk, der, sizeof(der));
  if (len <= 0) return make_error(ErrorCode::kCrypto, "cannot encode the public key");
  return crypto::sha256(
      ByteView(der + sizeof(der) - static_cast<std::size_t>(len), static_cast<std::size_t>(len)));
}

Result<std::string> public_pem_of(mbedtls_pk_context& pk) {
  unsigned char pem[1024] = {};
  if (mbedtls_pk_write_pubkey_pem(&pk, pem, sizeof(pem)) != 0) {
    return make_error(ErrorCode::kCrypto, "cannot write the public key as PEM");
  }
  return std::string(reinterpret_cast<const char*>(pem));
}

}  // namespace

struct PublicKey::Context {
  Pk pk;
};

PublicKey::PublicKey(std::unique_ptr<Context> context, KeyId id, std::string pem)
    : context_(std::move(context)), key_id_(id), pem_(std::move(pem)) {}
PublicKey::PublicKey(PublicKey&&) noexcept = default;
PublicKey& PublicKey::operator=(PublicKey&&) noexcept = default;
PublicKey::~PublicKey() = default;

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  auto context = std::make_unique<Context>();
  // mbedTLS recognises PEM only in a NUL-terminated buffer whose length counts the NUL.
  const std::string text(pem);
  if (mbedtls_pk_parse_public_key(&context->pk.ctx,
                                  reinterpret_cast<const unsigned char*>(text.c_str()),
                                  text.size() + 1) != 0) {
    return make_error(ErrorCode::kInvalidArgument, "not a PEM public key");
  }
  if (!is_p256(context->pk.ctx)) {
    return make_error(ErrorCode::kInvalidArgument, "public key is not an ECDSA P-256 key");
  }
  auto id = key_id_of(context->pk.ctx);
  if (!id) return std::unexpected(id.error());
  auto normalised = public_pem_of(context->pk.ctx);
  if (!normalised) return std::unexpected(normalised.error());
  return PublicKey(std::move(context), *id, std::move(*normalised));
}

Result<PublicKey> PublicKey::from_file(const std::filesystem::path& file) {
  auto text = read_key_file(file);
  if (!text) return std::unexpected(text.error());
  auto key = from_pem(*text);
  if (!key) return with_context(key.error(), file.string());
  return key;
}

Status PublicKey::verify_digest(const crypto::Sha256Digest& digest, ByteView der_signature) const {
  if (mbedtls_pk_verify(&context_->pk.ctx, MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                        der_signature.data(), der_signature.size()) != 0) {
    return make_error(ErrorCode::kCrypto, "signature does not verify");
  }
  return {};
}

struct SigningKey::Context {
  Pk pk;
};

SigningKey::SigningKey(std::unique_ptr<Context> context, PublicKey public_key)
    : context_(std::move(context)), public_key_(std::move(public_key)) {}
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

namespace {
Result<PublicKey> public_half(mbedtls_pk_context& pk) {
  auto pem = public_pem_of(pk);
  if (!pem) return std::unexpected(pem.error());
  return PublicKey::from_pem(*pem);
}
}  // namespace

Result<SigningKey> SigningKey::generate(crypto::Drbg& rng) {
  auto context = std::make_unique<Context>();
  if (mbedtls_pk_setup(&context->pk.ctx, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(context->pk.ctx),
                          &crypto::Drbg::mbedtls_rng, &rng) != 0) {
    return make_error(ErrorCode::kCrypto, "P-256 key generation failed");
  }
  auto pub = public_half(context->pk.ctx);
  if (!pub) return std::unexpected(pub.error());
  return SigningKey(std::move(context), std::move(*pub));
}

Result<SigningKey> SigningKey::from_pem(std::string_view pem) {
  auto context = std::make_unique<Context>();
  std::string text(pem);
  const int rc =
      mbedtls_pk_parse_key(&context->pk.ctx, reinterpret_cast<const unsigned char*>(text.c_str()),
                           text.size() + 1, nullptr, 0);
  mbedtls_platform_zeroize(text.data(), text.size());
  if (rc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED) {
    return make_error(ErrorCode::kInvalidArgument, "encrypted private keys are not supported");
  }
  if (rc != 0) return make_error(ErrorCode::kInvalidArgument, "not a PEM private key");
  if (!is_p256(context->pk.ctx)) {
    return make_error(ErrorCode::kInvalidArgument, "private key is not an ECDSA P-256 key");
  }
  auto pub = public_half(context->pk.ctx);
  if (!pub) return std::unexpected(pub.error());
  return SigningKey(std::move(context), std::move(*pub));
}

Result<SigningKey> SigningKey::from_file(const std::filesystem::path& file) {
  auto text = read_key_file(file);
  if (!text) return std::unexpected(text.error());
  auto key = from_pem(*text);
  mbedtls_platform_zeroize(text->data(), text->size());
  if (!key) return with_context(key.error(), file.string());
  return key;
}

Result<std::string> SigningKey::private_pem() const {
  std::vector<unsigned char> buffer(2048, 0);
  if (mbedtls_pk_write_key_pem(&context_->pk.ctx, buffer.data(), buffer.size()) != 0) {
    mbedtls_platform_zeroize(buffer.data(), buffer.size());
    return make_error(ErrorCode::kCrypto, "cannot write the private key as PEM");
  }
  std::string pem(reinterpret_cast<const char*>(buffer.data()));
  mbedtls_platform_zeroize(buffer.data(), buffer.size());
  return pem;
}

Result<Bytes> SigningKey::sign_digest(const crypto::Sha256Digest& digest, crypto::Drbg& rng) const {
  Bytes signature(MBEDTLS_PK_SIGNATURE_MAX_SIZE);
  std::size_t length = 0;
  if (mbedtls_pk_sign(&context_->pk.ctx, MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                      signature.data(), &length, &crypto::Drbg::mbedtls_rng, &rng) != 0) {
    return make_error(ErrorCode::kCrypto, "ECDSA signing failed");
  }
  signature.resize(length);
  return signature;
}

}  // namespace faregate::update
