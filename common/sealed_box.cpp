#include "common/sealed_box.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecp.h>
#include <mbedtls/gcm.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace faregate::sealed_box {

namespace {

constexpr std::size_t kAesKeyBytes = 32;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kHeaderBytes = 1 + kPublicKeyBytes;
// Part of the HKDF info: a key derived for this format is useless for any other purpose.
constexpr std::string_view kHkdfLabel = "faregate sealed box v1";
// Big enough for a P-256 key in PEM (SEC1 private key ~230 chars, SPKI ~180 chars).
constexpr std::size_t kPemBufferBytes = 1024;

// ---- RAII over the mbedTLS contexts used here -------------------------------------------

class Mpi {
 public:
  Mpi() { mbedtls_mpi_init(&v_); }
  ~Mpi() { mbedtls_mpi_free(&v_); }  // mbedtls_mpi_free wipes the limbs
  Mpi(const Mpi&) = delete;
  Mpi& operator=(const Mpi&) = delete;
  mbedtls_mpi* get() { return &v_; }
  const mbedtls_mpi* get() const { return &v_; }

 private:
  mbedtls_mpi v_;
};

class EcpPoint {
 public:
  EcpPoint() { mbedtls_ecp_point_init(&v_); }
  ~EcpPoint() { mbedtls_ecp_point_free(&v_); }
  EcpPoint(const EcpPoint&) = delete;
  EcpPoint& operator=(const EcpPoint&) = delete;
  mbedtls_ecp_point* get() { return &v_; }
  const mbedtls_ecp_point* get() const { return &v_; }

 private:
  mbedtls_ecp_point v_;
};

// The P-256 group, loaded on construction.
class P256 {
 public:
  P256() {
    mbedtls_ecp_group_init(&v_);
    loaded_ = mbedtls_ecp_group_load(&v_, MBEDTLS_ECP_DP_SECP256R1) == 0;
  }
  ~P256() { mbedtls_ecp_group_free(&v_); }
  P256(const P256&) = delete;
  P256& operator=(const P256&) = delete;
  bool loaded() const { return loaded_; }
  mbedtls_ecp_group* get() { return &v_; }

 private:
  mbedtls_ecp_group v_;
  bool loaded_ = false;
};

class Gcm {
 public:
  Gcm() { mbedtls_gcm_init(&v_); }
  ~Gcm() { mbedtls_gcm_free(&v_); }
  Gcm(const Gcm&) = delete;
  Gcm& operator=(const Gcm&) = delete;
  mbedtls_gcm_context* get() { return &v_; }

 private:
  mbedtls_gcm_context v_;
};

class Pk {
 public:
  Pk() { mbedtls_pk_init(&v_); }
  ~Pk() { mbedtls_pk_free(&v_); }
  Pk(const Pk&) = delete;
  Pk& operator=(const Pk&) = delete;
  mbedtls_pk_context* get() { return &v_; }

 private:
  mbedtls_pk_context v_;
};

// Wipes a stack buffer holding secrets when it goes out of scope.
template <std::size_t N>
class SecretBuffer {
 public:
  SecretBuffer() = default;
  ~SecretBuffer() { mbedtls_platform_zeroize(bytes_.data(), bytes_.size()); }
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  static constexpr std::size_t size() { return N; }

 private:
  std::array<std::uint8_t, N> bytes_{};
};

std::unexpected<Error> crypto_error(std::string message) {
  return make_error(ErrorCode::kCrypto, std::move(message));
}

// Reads a 65-byte uncompressed point and checks it lies on the curve (an invalid-curve point
// from an attacker would otherwise leak bits of the private key through ECDH).
bool read_point(P256& group, ByteView raw, EcpPoint& point) {
  if (raw.size() != kPublicKeyBytes || raw[0] != 0x04) return false;
  if (mbedtls_ecp_point_read_binary(group.get(), point.get(), raw.data(), raw.size()) != 0) {
    return false;
  }
  return mbedtls_ecp_check_pubkey(group.get(), point.get()) == 0;
}

bool write_point(P256& group, const EcpPoint& point,
                 std::array<std::uint8_t, kPublicKeyBytes>& out) {
  std::size_t written = 0;
  return mbedtls_ecp_point_write_binary(group.get(), point.get(), MBEDTLS_ECP_PF_UNCOMPRESSED,
                                        &written, out.data(), out.size()) == 0 &&
         written == out.size();
}

// Fills a pk context with a P-256 key pair (public point always, scalar if given).
bool fill_pk(Pk& pk, const std::array<std::uint8_t, kPublicKeyBytes>& point,
             const std::array<std::uint8_t, kPrivateKeyBytes>* scalar) {
  if (mbedtls_pk_setup(pk.get(), mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0) return false;
  mbedtls_ecp_keypair* kp = mbedtls_pk_ec(*pk.get());
  if (mbedtls_ecp_group_load(&kp->grp, MBEDTLS_ECP_DP_SECP256R1) != 0) return false;
  if (mbedtls_ecp_point_read_binary(&kp->grp, &kp->Q, point.data(), point.size()) != 0) {
    return false;
  }
  if (scalar != nullptr && mbedtls_mpi_read_binary(&kp->d, scalar->data(), scalar->size()) != 0) {
    return false;
  }
  return true;
}

Result<std::string> write_pem(Pk& pk, bool private_key) {
  std::string buffer(kPemBufferBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(buffer.data());
  const int rc = private_key ? mbedtls_pk_write_key_pem(pk.get(), out, buffer.size())
                             : mbedtls_pk_write_pubkey_pem(pk.get(), out, buffer.size());
  if (rc != 0) {
    mbedtls_platform_zeroize(buffer.data(), buffer.size());
    return crypto_error("cannot write PEM key");
  }
  std::string pem(buffer.c_str());
  mbedtls_platform_zeroize(buffer.data(), buffer.size());
  return pem;
}

// mbedTLS parses PEM only from a NUL-terminated buffer whose length counts the NUL.
std::string nul_terminated(std::string_view pem) {
  std::string s(pem);
  s.push_back('\0');
  return s;
}

// Checks a parsed pk context holds a P-256 key and returns its key pair.
const mbedtls_ecp_keypair* p256_keypair(Pk& pk) {
  if (mbedtls_pk_get_type(pk.get()) != MBEDTLS_PK_ECKEY) return nullptr;
  const mbedtls_ecp_keypair* kp = mbedtls_pk_ec(*pk.get());
  if (kp == nullptr || kp->grp.id != MBEDTLS_ECP_DP_SECP256R1) return nullptr;
  return kp;
}

// X coordinate of d*Q, big-endian, 32 bytes.
Status shared_secret(P256& group, const mbedtls_mpi& d, const EcpPoint& q,
                     SecretBuffer<kPrivateKeyBytes>& out, crypto::Drbg* drbg) {
  Mpi z;
  // Without a generator, mbedTLS 2.28 blinds the multiplication with its internal RNG.
  const int rc =
      mbedtls_ecdh_compute_shared(group.get(), z.get(), q.get(), &d,
                                  drbg != nullptr ? &crypto::Drbg::mbedtls_rng : nullptr, drbg);
  if (rc != 0) return crypto_error("ECDH failed");
  if (mbedtls_mpi_write_binary(z.get(), out.data(), out.size()) != 0) {
    return crypto_error("ECDH secret does not fit");
  }
  return {};
}

// AES key || GCM nonce, from the ECDH secret. The info binds both public keys, so a box
// re-targeted at another recipient or with a swapped ephemeral key derives another key.
Status derive_key_and_nonce(const SecretBuffer<kPrivateKeyBytes>& secret, ByteView ephemeral_public,
                            ByteView recipient_public,
                            SecretBuffer<kAesKeyBytes + kNonceBytes>& out) {
  Bytes info;
  info.reserve(kHkdfLabel.size() + 2 * kPublicKeyBytes);
  info.insert(info.end(), kHkdfLabel.begin(), kHkdfLabel.end());
  info.insert(info.end(), ephemeral_public.begin(), ephemeral_public.end());
  info.insert(info.end(), recipient_public.begin(), recipient_public.end());
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  if (mbedtls_hkdf(md, nullptr, 0, secret.data(), secret.size(), info.data(), info.size(),
                   out.data(), out.size()) != 0) {
    return crypto_error("HKDF failed");
  }
  return {};
}

// GCM additional data: the box header (version and ephemeral key) followed by the caller's.
Bytes gcm_additional_data(ByteView header, ByteView associated_data) {
  Bytes ad;
  ad.reserve(header.size() + associated_data.size());
  ad.insert(ad.end(), header.begin(), header.end());
  ad.insert(ad.end(), associated_data.begin(), associated_data.end());
  return ad;
}

}  // namespace

// ---- PublicKey ------------------------------------------------------------------------------

Result<PublicKey> PublicKey::from_raw(ByteView point) {
  P256 group;
  if (!group.loaded()) return crypto_error("cannot load P-256");
  EcpPoint q;
  if (!read_point(group, point, q)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "not an uncompressed P-256 point (65 bytes starting 04, on the curve)");
  }
  std::array<std::uint8_t, kPublicKeyBytes> raw{};
  std::copy(point.begin(), point.end(), raw.begin());
  return PublicKey(raw);
}

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  Pk pk;
  const std::string text = nul_terminated(pem);
  if (mbedtls_pk_parse_public_key(pk.get(), reinterpret_cast<const unsigned char*>(text.data()),
                                  text.size()) != 0) {
    return make_error(ErrorCode::kInvalidArgument, "not a PEM public key");
  }
  const mbedtls_ecp_keypair* kp = p256_keypair(pk);
  if (kp == nullptr) return make_error(ErrorCode::kInvalidArgument, "not a P-256 public key");
  std::array<std::uint8_t, kPublicKeyBytes> raw{};
  std::size_t written = 0;
  if (mbedtls_ecp_point_write_binary(&kp->grp, &kp->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &written,
                                     raw.data(), raw.size()) != 0 ||
      written != raw.size()) {
    return make_error(ErrorCode::kInvalidArgument, "cannot encode the public point");
  }
  return from_raw(raw);  // re-checks the point is on the curve
}

Result<std::string> PublicKey::to_pem() const {
  Pk pk;
  if (!fill_pk(pk, point_, nullptr)) return crypto_error("cannot build a pk context");
  return write_pem(pk, /*private_key=*/false);
}

// ---- PrivateKey -----------------------------------------------------------------------------

PrivateKey::PrivateKey(const std::array<std::uint8_t, kPrivateKeyBytes>& scalar,
                       PublicKey public_key)
    : scalar_(scalar), public_key_(public_key) {}

PrivateKey::PrivateKey(PrivateKey&& other) noexcept
    : scalar_(other.scalar_), public_key_(other.public_key_) {
  mbedtls_platform_zeroize(other.scalar_.data(), other.scalar_.size());
}

PrivateKey& PrivateKey::operator=(PrivateKey&& other) noexcept {
  if (this != &other) {
    scalar_ = other.scalar_;
    public_key_ = other.public_key_;
    mbedtls_platform_zeroize(other.scalar_.data(), other.scalar_.size());
  }
  return *this;
}

PrivateKey::~PrivateKey() { mbedtls_platform_zeroize(scalar_.data(), scalar_.size()); }

Result<PrivateKey> PrivateKey::from_raw(ByteView scalar) {
  if (scalar.size() != kPrivateKeyBytes) {
    return make_error(ErrorCode::kInvalidArgument, "a P-256 private key is 32 bytes");
  }
  P256 group;
  if (!group.loaded()) return crypto_error("cannot load P-256");
  Mpi d;
  if (mbedtls_mpi_read_binary(d.get(), scalar.data(), scalar.size()) != 0) {
    return crypto_error("cannot read the scalar");
  }
  if (mbedtls_ecp_check_privkey(group.get(), d.get()) != 0) {
    return make_error(ErrorCode::kInvalidArgument, "scalar is not in [1, n-1]");
  }
  EcpPoint q;
  if (mbedtls_ecp_mul(group.get(), q.get(), d.get(), &group.get()->G, nullptr, nullptr) != 0) {
    return crypto_error("cannot compute the public key");
  }
  std::array<std::uint8_t, kPublicKeyBytes> point{};
  if (!write_point(group, q, point)) return crypto_error("cannot encode the public key");
  std::array<std::uint8_t, kPrivateKeyBytes> raw{};
  std::copy(scalar.begin(), scalar.end(), raw.begin());
  PrivateKey key(raw, PublicKey(point));
  mbedtls_platform_zeroize(raw.data(), raw.size());
  return key;
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  Pk pk;
  std::string text = nul_terminated(pem);
  const int rc = mbedtls_pk_parse_key(pk.get(), reinterpret_cast<const unsigned char*>(text.data()),
                                      text.size(), nullptr, 0);
  mbedtls_platform_zeroize(text.data(), text.size());
  if (rc != 0) return make_error(ErrorCode::kInvalidArgument, "not a PEM private key");
  const mbedtls_ecp_keypair* kp = p256_keypair(pk);
  if (kp == nullptr) return make_error(ErrorCode::kInvalidArgument, "not a P-256 private key");
  SecretBuffer<kPrivateKeyBytes> scalar;
  if (mbedtls_mpi_write_binary(&kp->d, scalar.data(), scalar.size()) != 0) {
    return make_error(ErrorCode::kInvalidArgument, "private scalar too large");
  }
  // Rebuild from the scalar: the public key comes from our own multiplication, not from
  // whatever the file claimed.
  return from_raw(ByteView(scalar.data(), scalar.size()));
}

Result<std::string> PrivateKey::to_pem() const {
  Pk pk;
  if (!fill_pk(pk, public_key_.raw(), &scalar_)) return crypto_error("cannot build a pk context");
  return write_pem(pk, /*private_key=*/true);
}

// ---- Key generation, seal, open -------------------------------------------------------------

Result<SealingKeyPair> generate(crypto::Drbg& drbg) {
  P256 group;
  if (!group.loaded()) return crypto_error("cannot load P-256");
  Mpi d;
  EcpPoint q;
  if (mbedtls_ecp_gen_keypair(group.get(), d.get(), q.get(), &crypto::Drbg::mbedtls_rng, &drbg) !=
      0) {
    return crypto_error("P-256 key generation failed");
  }
  SecretBuffer<kPrivateKeyBytes> scalar;
  if (mbedtls_mpi_write_binary(d.get(), scalar.data(), scalar.size()) != 0) {
    return crypto_error("cannot encode the private key");
  }
  auto private_key = PrivateKey::from_raw(ByteView(scalar.data(), scalar.size()));
  if (!private_key) return std::unexpected(private_key.error());
  PublicKey public_key = private_key->public_key();
  return SealingKeyPair{std::move(*private_key), public_key};
}

PreparedSeal::PreparedSeal(PreparedSeal&& other) noexcept
    : ephemeral_public_(other.ephemeral_public_), key_and_nonce_(other.key_and_nonce_),
      ready_(other.ready_) {
  other.wipe();
}

PreparedSeal& PreparedSeal::operator=(PreparedSeal&& other) noexcept {
  if (this != &other) {
    ephemeral_public_ = other.ephemeral_public_;
    key_and_nonce_ = other.key_and_nonce_;
    ready_ = other.ready_;
    other.wipe();
  }
  return *this;
}

PreparedSeal::~PreparedSeal() { wipe(); }

void PreparedSeal::wipe() {
  mbedtls_platform_zeroize(key_and_nonce_.data(), key_and_nonce_.size());
  ready_ = false;
}

Result<PreparedSeal> prepare_seal(const PublicKey& recipient, crypto::Drbg& drbg) {
  P256 group;
  if (!group.loaded()) return crypto_error("cannot load P-256");
  EcpPoint recipient_point;
  if (!read_point(group, recipient.raw(), recipient_point)) {
    return crypto_error("recipient key is not a P-256 point");  // cannot happen: checked at birth
  }

  Mpi ephemeral_secret;
  EcpPoint ephemeral_point;
  if (mbedtls_ecp_gen_keypair(group.get(), ephemeral_secret.get(), ephemeral_point.get(),
                              &crypto::Drbg::mbedtls_rng, &drbg) != 0) {
    return crypto_error("ephemeral key generation failed");
  }
  PreparedSeal prepared;
  if (!write_point(group, ephemeral_point, prepared.ephemeral_public_)) {
    return crypto_error("cannot encode the ephemeral key");
  }
  SecretBuffer<kPrivateKeyBytes> secret;
  if (auto s = shared_secret(group, *ephemeral_secret.get(), recipient_point, secret, &drbg); !s) {
    return std::unexpected(s.error());
  }
  SecretBuffer<kAesKeyBytes + kNonceBytes> okm;
  if (auto s = derive_key_and_nonce(secret, prepared.ephemeral_public_, recipient.raw(), okm);
      !s) {
    return std::unexpected(s.error());
  }
  std::copy_n(okm.data(), okm.size(), prepared.key_and_nonce_.begin());
  prepared.ready_ = true;
  return prepared;
}

Result<Bytes> seal(PreparedSeal prepared, ByteView plaintext, ByteView associated_data) {
  if (!prepared.ready_) return crypto_error("a prepared seal serves one box only");
  Bytes out(kOverheadBytes + plaintext.size());
  out[0] = kVersion;
  std::copy(prepared.ephemeral_public_.begin(), prepared.ephemeral_public_.end(), out.begin() + 1);

  Gcm gcm;
  if (mbedtls_gcm_setkey(gcm.get(), MBEDTLS_CIPHER_ID_AES, prepared.key_and_nonce_.data(),
                         kAesKeyBytes * 8) != 0) {
    return crypto_error("AES-GCM key setup failed");
  }
  const Bytes ad = gcm_additional_data(ByteView(out.data(), kHeaderBytes), associated_data);
  std::uint8_t* ciphertext = out.data() + kHeaderBytes;
  std::uint8_t* tag = ciphertext + plaintext.size();
  if (mbedtls_gcm_crypt_and_tag(gcm.get(), MBEDTLS_GCM_ENCRYPT, plaintext.size(),
                                prepared.key_and_nonce_.data() + kAesKeyBytes, kNonceBytes,
                                ad.data(), ad.size(), plaintext.data(), ciphertext, kTagBytes,
                                tag) != 0) {
    return crypto_error("AES-GCM encryption failed");
  }
  return out;
}

Result<Bytes> seal(ByteView plaintext, ByteView associated_data, const PublicKey& recipient,
                   crypto::Drbg& drbg) {
  auto prepared = prepare_seal(recipient, drbg);
  if (!prepared) return std::unexpected(prepared.error());
  return seal(std::move(*prepared), plaintext, associated_data);
}

Result<Bytes> open(ByteView sealed, ByteView associated_data, const PrivateKey& recipient) {
  if (sealed.size() < kOverheadBytes) return crypto_error("sealed box is truncated");
  if (sealed[0] != kVersion) return crypto_error("unknown sealed box version");
  const ByteView ephemeral_public = sealed.subspan(1, kPublicKeyBytes);
  const std::size_t body = sealed.size() - kOverheadBytes;
  const ByteView ciphertext = sealed.subspan(kHeaderBytes, body);
  const ByteView tag = sealed.subspan(kHeaderBytes + body, kTagBytes);

  P256 group;
  if (!group.loaded()) return crypto_error("cannot load P-256");
  EcpPoint ephemeral_point;
  if (!read_point(group, ephemeral_public, ephemeral_point)) {
    return crypto_error("sealed box carries an invalid ephemeral key");
  }
  Mpi d;
  if (mbedtls_mpi_read_binary(d.get(), recipient.raw().data(), recipient.raw().size()) != 0) {
    return crypto_error("cannot read the private key");
  }

  SecretBuffer<kPrivateKeyBytes> secret;
  if (auto s = shared_secret(group, *d.get(), ephemeral_point, secret, nullptr); !s) {
    return std::unexpected(s.error());
  }
  SecretBuffer<kAesKeyBytes + kNonceBytes> okm;
  if (auto s = derive_key_and_nonce(secret, ephemeral_public, recipient.public_key().raw(), okm);
      !s) {
    return std::unexpected(s.error());
  }

  Gcm gcm;
  if (mbedtls_gcm_setkey(gcm.get(), MBEDTLS_CIPHER_ID_AES, okm.data(), kAesKeyBytes * 8) != 0) {
    return crypto_error("AES-GCM key setup failed");
  }
  const Bytes ad = gcm_additional_data(sealed.first(kHeaderBytes), associated_data);
  Bytes plaintext(body);
  if (mbedtls_gcm_auth_decrypt(gcm.get(), body, okm.data() + kAesKeyBytes, kNonceBytes, ad.data(),
                               ad.size(), tag.data(), tag.size(), ciphertext.data(),
                               plaintext.data()) != 0) {
    // mbedTLS already wiped the output; never hand back a partial plaintext.
    return crypto_error(
        "sealed box failed authentication (wrong key, altered bytes or "
        "different associated data)");
  }
  return plaintext;
}

Result<Bytes> hkdf_sha256(ByteView salt, ByteView input_key_material, ByteView info,
                          std::size_t length) {
  constexpr std::size_t kMaxLength = 255 * 32;
  if (length == 0 || length > kMaxLength) {
    return make_error(ErrorCode::kInvalidArgument, "HKDF-SHA256 output must be 1..8160 bytes");
  }
  Bytes out(length);
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  if (mbedtls_hkdf(md, salt.data(), salt.size(), input_key_material.data(),
                   input_key_material.size(), info.data(), info.size(), out.data(),
                   out.size()) != 0) {
    return crypto_error("HKDF failed");
  }
  return out;
}

}  // namespace faregate::sealed_box
