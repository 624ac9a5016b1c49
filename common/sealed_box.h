#pragma once
// Sealed boxes: bytes that only the back office can open (the PAN of a tapped card, for
// instance). ECIES over P-256: an ephemeral ECDH key agreement with the back office's public
// key, HKDF-SHA256 to derive an AES-256-GCM key and nonce, AES-256-GCM with caller-supplied
// associated data. The wire format is specified in docs/sealed_card_data.md.
//
// Everything cryptographic comes from mbedTLS; randomness only from the injected crypto::Drbg.
// A validator holds only a PublicKey; the back office holds the PrivateKey.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"

namespace faregate::sealed_box {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kPublicKeyBytes = 65;   // uncompressed SEC1 point: 04 || X || Y
inline constexpr std::size_t kPrivateKeyBytes = 32;  // big-endian scalar
inline constexpr std::size_t kTagBytes = 16;
// version || ephemeral public key || ciphertext (same length as the plaintext) || tag
inline constexpr std::size_t kOverheadBytes = 1 + kPublicKeyBytes + kTagBytes;

// The back office's P-256 public key. Always a valid point on the curve: every way of making
// one checks it.
class PublicKey {
 public:
  // Requires nothing; fails (kInvalidArgument) unless `point` is a 65-byte uncompressed point
  // on P-256.
  static Result<PublicKey> from_raw(ByteView point);
  // Accepts a PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----") holding a P-256 key.
  static Result<PublicKey> from_pem(std::string_view pem);

  const std::array<std::uint8_t, kPublicKeyBytes>& raw() const { return point_; }
  // PEM SubjectPublicKeyInfo.
  Result<std::string> to_pem() const;

  friend bool operator==(const PublicKey&, const PublicKey&) = default;

 private:
  friend class PrivateKey;  // derives its public key from the scalar
  explicit PublicKey(const std::array<std::uint8_t, kPublicKeyBytes>& point) : point_(point) {}
  std::array<std::uint8_t, kPublicKeyBytes> point_;
};

// The back office's P-256 private key. Move-only; the scalar is wiped when the object dies.
class PrivateKey {
 public:
  // Fails (kInvalidArgument) unless `scalar` is 32 bytes in [1, n-1].
  static Result<PrivateKey> from_raw(ByteView scalar);
  // Accepts PEM SEC1 ("EC PRIVATE KEY") or unencrypted PKCS#8 ("PRIVATE KEY") on P-256.
  static Result<PrivateKey> from_pem(std::string_view pem);

  PrivateKey(PrivateKey&& other) noexcept;
  PrivateKey& operator=(PrivateKey&& other) noexcept;
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;
  ~PrivateKey();

  // The secret scalar. Handle with care: whoever holds these bytes can open every box.
  const std::array<std::uint8_t, kPrivateKeyBytes>& raw() const { return scalar_; }
  const PublicKey& public_key() const { return public_key_; }
  // PEM SEC1 "EC PRIVATE KEY" (with the public key).
  Result<std::string> to_pem() const;

 private:
  PrivateKey(const std::array<std::uint8_t, kPrivateKeyBytes>& scalar, PublicKey public_key);
  std::array<std::uint8_t, kPrivateKeyBytes> scalar_;
  PublicKey public_key_;
};

struct SealingKeyPair {
  PrivateKey private_key;
  PublicKey public_key;
};

// A fresh key pair from `drbg`. Fails (kCrypto) only if the generator fails.
Result<SealingKeyPair> generate(crypto::Drbg& drbg);

// Seals `plaintext` for the holder of the private key matching `recipient`. `associated_data`
// is authenticated but not stored in the box: open() needs the same bytes (bind the box to its
// context, e.g. device id and tap sequence number, so that it cannot be moved to another
// record). Each call uses a new ephemeral key, so sealing the same plaintext twice gives
// different boxes.
// Returns kOverheadBytes + plaintext.size() bytes.
Result<Bytes> seal(ByteView plaintext, ByteView associated_data, const PublicKey& recipient,
                   crypto::Drbg& drbg);

// The key-agreement half of seal() (an ephemeral P-256 key pair and the ECDH with the
// recipient: two scalar multiplications, most of seal()'s cost), done ahead of time: a validator
// prepares the next box between taps so that the tap itself only runs AES-GCM. Move-only, single
// use (seal() consumes it), the derived key wiped when it dies.
class PreparedSeal {
 public:
  PreparedSeal(PreparedSeal&& other) noexcept;
  PreparedSeal& operator=(PreparedSeal&& other) noexcept;
  PreparedSeal(const PreparedSeal&) = delete;
  PreparedSeal& operator=(const PreparedSeal&) = delete;
  ~PreparedSeal();

 private:
  PreparedSeal() = default;
  void wipe();
  friend Result<PreparedSeal> prepare_seal(const PublicKey& recipient, crypto::Drbg& drbg);
  friend Result<Bytes> seal(PreparedSeal prepared, ByteView plaintext, ByteView associated_data);
  std::array<std::uint8_t, kPublicKeyBytes> ephemeral_public_{};
  std::array<std::uint8_t, 44> key_and_nonce_{};  // AES-256 key || GCM nonce
  bool ready_ = false;
};

Result<PreparedSeal> prepare_seal(const PublicKey& recipient, crypto::Drbg& drbg);
// seal() with a prepared key agreement; the same box format. kCrypto if `prepared` was used.
Result<Bytes> seal(PreparedSeal prepared, ByteView plaintext, ByteView associated_data);

// Opens a box made by seal(). Fails with kCrypto, and returns no plaintext at all, if the box is
// truncated, has an unknown version, carries an invalid ephemeral key, was altered in any byte,
// was sealed for another key, or `associated_data` differs from what it was sealed with.
Result<Bytes> open(ByteView sealed, ByteView associated_data, const PrivateKey& recipient);

// HKDF-SHA256 (RFC 5869) by mbedTLS, exposed for its test vectors. Requires 1 <= length <=
// 255 * 32; fails with kInvalidArgument otherwise.
Result<Bytes> hkdf_sha256(ByteView salt, ByteView input_key_material, ByteView info,
                          std::size_t length);

}  // namespace faregate::sealed_box
