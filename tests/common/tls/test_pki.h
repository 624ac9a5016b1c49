#pragma once
// A throw-away operator PKI for tests and benchmarks: one CA (from a seeded generator, so runs
// repeat), the back office's certificate, device certificates on demand, revocation lists, and
// a second, unrelated CA for "wrong issuer" cases. Validity is taken from the real clock,
// because mbedTLS checks certificates against it.

#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/tls/tls_context.h"
#include "tools/keys/certificate_authority.h"

namespace faregate::testing {

class TestPki {
 public:
  explicit TestPki(std::uint64_t seed = 1, std::string server_name = "faregate-backoffice")
      : drbg_(crypto::Drbg::deterministic(seed)),
        now_(static_cast<std::int64_t>(std::time(nullptr))),
        // From a month back, so that tests can issue certificates that have already expired.
        ca_(must(keys::CertificateAuthority::create("Test operator CA " + std::to_string(seed),
                                                    "Faregate tests",
                                                    {now_ - 30 * 86'400, now_ + 30 * 86'400},
                                                    drbg_))),
        server_name_(std::move(server_name)),
        server_(must(ca_.issue(keys::Role::kBackoffice, server_name_,
                               keys::validity_for_days(now_, 30), drbg_))) {}

  const keys::CertificateAuthority& ca() const { return ca_; }
  const std::string& ca_pem() const { return ca_.certificate_pem(); }
  const keys::IssuedKeyPair& server() const { return server_; }
  const std::string& server_name() const { return server_name_; }
  std::int64_t now() const { return now_; }

  keys::IssuedKeyPair issue_device(const std::string& device_id, int days = 30) {
    return must(ca_.issue(keys::Role::kDevice, device_id, keys::validity_for_days(now_, days),
                          drbg_));
  }
  keys::IssuedKeyPair issue_device_with(keys::Validity validity, const std::string& device_id) {
    return must(ca_.issue(keys::Role::kDevice, device_id, validity, drbg_));
  }

  // A revocation list naming `serials`, valid for `days` from now (negative: already expired).
  std::string revocation_list(const std::vector<std::string>& serials, int days = 30) {
    std::vector<keys::Revocation> list;
    for (const auto& s : serials) list.push_back({s, now_ - 10});
    const std::int64_t next = days > 0 ? now_ + days * 86'400 : now_ - 60;
    return must(ca_.revocation_list(list, static_cast<std::uint64_t>(now_), now_ - 7200, next,
                                    drbg_));
  }

  tls::ServerPem server_pem(std::string revocation_list_pem = {}) const {
    return tls::ServerPem{server_.certificate_pem, server_.private_key_pem, ca_pem(),
                          std::move(revocation_list_pem)};
  }
  tls::ClientPem client_pem(const keys::IssuedKeyPair& device) const {
    return tls::ClientPem{device.certificate_pem, device.private_key_pem, ca_pem(), server_name_};
  }

  std::shared_ptr<const tls::ServerContext> server_context(std::string revocation_list_pem = {}) const {
    return must(tls::ServerContext::create(server_pem(std::move(revocation_list_pem))));
  }
  std::shared_ptr<const tls::ClientContext> client_context(const std::string& device_id) {
    return must(tls::ClientContext::create(client_pem(issue_device(device_id))));
  }

 private:
  template <typename T>
  static T must(Result<T> result) {
    if (!result) throw std::runtime_error("test PKI: " + result.error().describe());
    return std::move(*result);
  }

  crypto::Drbg drbg_;
  std::int64_t now_;
  keys::CertificateAuthority ca_;
  std::string server_name_;
  keys::IssuedKeyPair server_;
};

}  // namespace faregate::testing
