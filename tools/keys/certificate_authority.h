#pragma once
// keys::CertificateAuthority: the operator's certificate authorities for the sync link, in
// memory. Makes self-signed CAs, issues device and back-office certificates (each with a fresh
// P-256 key), and signs revocation lists (X.509 v2 CRLs) that mbedTLS, and OpenSSL, read.
//
// Profiles (all ECDSA P-256 with SHA-256, X.509 v3, a random 16-byte serial, subject and
// authority key identifiers; subjects carry O = the CA's organization when it has one):
//   CA:          basicConstraints CA:TRUE pathlen 0; keyUsage keyCertSign, cRLSign
//   device:      CN = device id; CA:FALSE; keyUsage digitalSignature; extKeyUsage clientAuth
//   back office: CN = server name, subjectAltName DNS = server name; CA:FALSE;
//                keyUsage digitalSignature; extKeyUsage serverAuth
// The key usages keep a device certificate from serving as a back office and the other way
// round: faregate-keys uses one operator CA for both (docs/provisioning.md).
//
// mbedTLS 2.28 writes a NULL parameter into the ECDSA signature algorithm identifiers of the
// certificates it makes; mbedTLS and OpenSSL accept it. The revocation lists are written here and
// omit it, as RFC 5758 asks.
//
// No hidden time or randomness: validity periods and "now" are parameters, keys and serials come
// from the injected crypto::Drbg.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/error.h"
#include "common/tls/mbedtls_handles.h"

namespace faregate::keys {

// kTechnician: CN = technician name (device-id rules), OU = faregate-technician, clientAuth.
// kMaintenance: a validator's maintenance port: CN = device id, subjectAltName DNS =
// faregate-maintenance, serverAuth.
enum class Role { kDevice, kBackoffice, kTechnician, kMaintenance };

// UTC epoch seconds.
struct Validity {
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
};
// From `now` for `days` days; starts an hour early so that a clock a little behind still
// accepts a certificate issued a moment ago. Requires days >= 1.
Validity validity_for_days(std::int64_t now, int days);

struct IssuedKeyPair {
  std::string certificate_pem;
  std::string private_key_pem;  // PEM SEC1 "EC PRIVATE KEY"; keep it secret
  std::string serial_hex;       // as the certificate encodes it (see tls::Certificate)
  std::string not_after;        // "2036-03-01T00:00:00Z"
};

struct Revocation {
  std::string serial_hex;
  std::int64_t revoked_at = 0;  // UTC epoch seconds
};

class CertificateAuthority {
 public:
  // A new CA named "CN=<common_name>,O=<organization>" with a fresh key. Errors:
  // kInvalidArgument (empty or unusable names, an empty validity period), kCrypto.
  static Result<CertificateAuthority> create(std::string_view common_name,
                                             std::string_view organization, Validity validity,
                                             crypto::Drbg& drbg);
  // An existing CA from its certificate and key (PEM). Errors: kInvalidArgument when either does
  // not parse, the key is not the certificate's, or the certificate is not a CA.
  static Result<CertificateAuthority> load(std::string_view certificate_pem,
                                           std::string_view private_key_pem);

  CertificateAuthority(CertificateAuthority&&) noexcept = default;
  CertificateAuthority& operator=(CertificateAuthority&&) noexcept = default;

  const tls::Certificate& certificate() const { return certificate_; }
  const std::string& certificate_pem() const { return certificate_pem_; }
  Result<std::string> private_key_pem() const { return key_.to_pem(); }
  const std::string& common_name() const { return common_name_; }
  const std::string& organization() const { return organization_; }
  // The end of the CA certificate's validity, UTC epoch seconds.
  std::int64_t valid_until() const;

  // Issues a certificate for `common_name` (a device id for kDevice, which is then checked with
  // tls::is_valid_device_id; the server name for kBackoffice). The validity is clipped to the
  // CA's own. Errors: kInvalidArgument, kCrypto.
  Result<IssuedKeyPair> issue(Role role, std::string_view common_name, Validity validity,
                              crypto::Drbg& drbg) const;

  // A revocation list (PEM "X509 CRL", v2, with a cRLNumber) listing `revoked`, valid from
  // `this_update` until `next_update` (UTC epoch seconds). mbedTLS refuses every certificate of
  // this CA once the list it holds is past next_update, so choose it generously.
  // Errors: kInvalidArgument (bad serial hex, next_update <= this_update), kCrypto.
  Result<std::string> revocation_list(std::span<const Revocation> revoked,
                                      std::uint64_t crl_number, std::int64_t this_update,
                                      std::int64_t next_update, crypto::Drbg& drbg) const;

 private:
  CertificateAuthority(tls::Certificate certificate, std::string certificate_pem,
                       tls::PrivateKey key, std::string common_name, std::string organization)
      : certificate_(std::move(certificate)),
        certificate_pem_(std::move(certificate_pem)),
        key_(std::move(key)),
        common_name_(std::move(common_name)),
        organization_(std::move(organization)) {}

  tls::Certificate certificate_;
  std::string certificate_pem_;
  tls::PrivateKey key_;
  std::string common_name_;
  std::string organization_;
};

}  // namespace faregate::keys
