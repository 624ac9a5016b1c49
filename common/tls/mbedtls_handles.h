#pragma once
// RAII owners for the mbedTLS objects the TLS layer and the provisioning tool use: X.509
// certificate chains, certificate revocation lists and private keys. Each owns its mbedTLS
// struct on the heap, so that its address stays put when the owner moves (mbedTLS configs keep
// raw pointers to certificates, keys and CRLs).
//
// Parsers take PEM text (or DER); every failure is a value naming what was being read and the
// mbedTLS reason. Nothing here touches the network.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"

struct mbedtls_x509_crt;
struct mbedtls_x509_crl;
struct mbedtls_pk_context;

namespace faregate::tls {

// "X509 - Certificate verification failed, e.g. CRL, CA or signature check failed (-0x2700)"
std::string mbedtls_error_text(int code);

// Reads a whole file (certificates, keys and CRLs are small). Errors: kNotFound, kIo.
Result<std::string> read_text_file(const std::filesystem::path& path);

// One certificate or a chain (leaf first).
class Certificate {
 public:
  // PEM (one or more "CERTIFICATE" blocks) or DER. `what` names the source in errors.
  // Errors: kInvalidArgument when nothing parses or any block fails.
  static Result<Certificate> parse(std::string_view pem_or_der, std::string_view what);
  static Result<Certificate> load(const std::filesystem::path& path);

  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;
  ~Certificate();

  mbedtls_x509_crt* get() const { return crt_.get(); }

  // Of the first certificate in the chain.
  std::string subject_common_name() const;
  // The serial as the certificate encodes it (INTEGER content bytes), lower-case hex.
  std::string serial_hex() const;
  // "2036-03-01T00:00:00Z" (UTC, as the certificate states it).
  std::string not_after() const;
  // The certificate's DER bytes.
  Bytes der() const;
  bool is_ca() const;

 private:
  struct Free {
    void operator()(mbedtls_x509_crt* crt) const noexcept;
  };
  explicit Certificate(std::unique_ptr<mbedtls_x509_crt, Free> crt) : crt_(std::move(crt)) {}
  std::unique_ptr<mbedtls_x509_crt, Free> crt_;
};

// The common name of a parsed certificate (empty when it has none); for verify callbacks.
std::string common_name_of(const mbedtls_x509_crt& crt);
// The subject's first organizational unit (OU), empty when it has none. Faregate uses it as a
// role marker (tls_context.h, kTechnicianUnit).
std::string organizational_unit_of(const mbedtls_x509_crt& crt);
std::string serial_hex_of(const mbedtls_x509_crt& crt);

// A certificate revocation list (PEM "X509 CRL" or DER), possibly several concatenated.
class RevocationList {
 public:
  static Result<RevocationList> parse(std::string_view pem_or_der, std::string_view what);
  static Result<RevocationList> load(const std::filesystem::path& path);

  RevocationList(RevocationList&&) noexcept = default;
  RevocationList& operator=(RevocationList&&) noexcept = default;
  ~RevocationList();

  mbedtls_x509_crl* get() const { return crl_.get(); }
  // Revoked serials listed (all CRLs in the chain).
  std::size_t revoked_count() const;
  // True when the serial (INTEGER content bytes as hex, see Certificate::serial_hex) is listed.
  bool lists(std::string_view serial_hex) const;

 private:
  struct Free {
    void operator()(mbedtls_x509_crl* crl) const noexcept;
  };
  explicit RevocationList(std::unique_ptr<mbedtls_x509_crl, Free> crl) : crl_(std::move(crl)) {}
  std::unique_ptr<mbedtls_x509_crl, Free> crl_;
};

// A private key (an EC P-256 key for everything Faregate issues; parsing accepts what mbedTLS
// accepts: SEC1, PKCS#8, PKCS#1, unencrypted).
class PrivateKey {
 public:
  static Result<PrivateKey> parse(std::string_view pem_or_der, std::string_view what);
  static Result<PrivateKey> load(const std::filesystem::path& path);
  // A fresh P-256 key from `drbg`. Errors: kCrypto.
  static Result<PrivateKey> generate_p256(crypto::Drbg& drbg);

  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;
  ~PrivateKey();

  mbedtls_pk_context* get() const { return pk_.get(); }

  // PEM "EC PRIVATE KEY" (SEC1). Errors: kCrypto.
  Result<std::string> to_pem() const;
  // PEM "PUBLIC KEY" (SubjectPublicKeyInfo).
  Result<std::string> public_pem() const;
  // True when `certificate`'s public key is this key's.
  bool matches(const Certificate& certificate) const;

 private:
  struct Free {
    void operator()(mbedtls_pk_context* pk) const noexcept;
  };
  explicit PrivateKey(std::unique_ptr<mbedtls_pk_context, Free> pk) : pk_(std::move(pk)) {}
  std::unique_ptr<mbedtls_pk_context, Free> pk_;
};

}  // namespace faregate::tls
