#pragma once
// ECDSA P-256 keys for firmware images (mbedTLS). The private key signs images on a build or
// release machine; the public key is compiled into faregate-boot and is the only thing it trusts.
// Keys are PEM: SEC1 or PKCS#8 private keys, SubjectPublicKeyInfo public keys (what openssl and
// faregate-keys write).

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"
#include "firmware/update/image_format.h"

namespace faregate::update {

class PublicKey {
 public:
  // Fails (kInvalidArgument) unless `pem` holds an EC public key on P-256.
  static Result<PublicKey> from_pem(std::string_view pem);
  static Result<PublicKey> from_file(const std::filesystem::path& file);

  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  ~PublicKey();

  // SHA-256 of the DER SubjectPublicKeyInfo; images name their signer by it.
  const KeyId& key_id() const { return key_id_; }
  const std::string& pem() const { return pem_; }

  // Returns ok iff `der_signature` is this key's ECDSA signature of `digest`.
  Status verify_digest(const crypto::Sha256Digest& digest, ByteView der_signature) const;

 private:
  struct Context;
  PublicKey(std::unique_ptr<Context> context, KeyId id, std::string pem);
  std::unique_ptr<Context> context_;
  KeyId key_id_{};
  std::string pem_;
};

class SigningKey {
 public:
  // A fresh P-256 key pair from `rng`.
  static Result<SigningKey> generate(crypto::Drbg& rng);
  // Fails (kInvalidArgument) unless `pem` is an unencrypted P-256 private key.
  static Result<SigningKey> from_pem(std::string_view pem);
  static Result<SigningKey> from_file(const std::filesystem::path& file);

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  Result<std::string> private_pem() const;
  const PublicKey& public_key() const { return public_key_; }

  // DER ECDSA signature of `digest` (RFC 6979 nonces; `rng` only blinds the computation).
  Result<Bytes> sign_digest(const crypto::Sha256Digest& digest, crypto::Drbg& rng) const;

 private:
  struct Context;
  SigningKey(std::unique_ptr<Context> context, PublicKey public_key);
  std::unique_ptr<Context> context_;
  PublicKey public_key_;
};

}  // namespace faregate::update
