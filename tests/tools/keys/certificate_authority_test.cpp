// keys::CertificateAuthority and keys::PkiDirectory: what they issue is what mbedTLS (the sync
// link) accepts, revocation lists list what they should, and operator mistakes are refused.

#include <catch2/catch.hpp>

#include <mbedtls/x509_crt.h>

#include <ctime>

#include "common/tls/mbedtls_handles.h"
#include "common/tls/tls_context.h"
#include "tests/support/temp_dir.h"
#include "tools/keys/certificate_authority.h"
#include "tools/keys/pki_directory.h"

using faregate::crypto::Drbg;
using faregate::keys::CertificateAuthority;
using faregate::keys::PkiDirectory;
using faregate::keys::Role;
using faregate::keys::validity_for_days;
using faregate::testing::TempDir;
using faregate::tls::Certificate;
using faregate::tls::RevocationList;

namespace {
std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::uint32_t verify(const Certificate& leaf, const Certificate& ca,
                     const RevocationList* crl = nullptr) {
  std::uint32_t flags = 0;
  mbedtls_x509_crt_verify(leaf.get(), ca.get(), crl != nullptr ? crl->get() : nullptr, nullptr,
                          &flags, nullptr, nullptr);
  return flags;
}
}  // namespace

TEST_CASE("a CA issues device and back-office certificates that verify against it") {
  auto drbg = Drbg::deterministic(1);
  auto ca = CertificateAuthority::create("Operator CA", "Metro", validity_for_days(now(), 10), drbg);
  REQUIRE(ca);
  CHECK(ca->certificate().is_ca());
  auto device = ca->issue(Role::kDevice, "central-entry-1", validity_for_days(now(), 5), drbg);
  REQUIRE(device);
  auto leaf = Certificate::parse(device->certificate_pem, "device");
  REQUIRE(leaf);
  CHECK(leaf->subject_common_name() == "central-entry-1");
  CHECK_FALSE(leaf->is_ca());
  CHECK(leaf->serial_hex() == device->serial_hex);
  CHECK(device->serial_hex.size() == 32);
  CHECK(verify(*leaf, ca->certificate()) == 0);
  auto key = faregate::tls::PrivateKey::parse(device->private_key_pem, "key");
  REQUIRE(key);
  CHECK(key->matches(*leaf));

  auto server = ca->issue(Role::kBackoffice, "ingest.metro.example", validity_for_days(now(), 5), drbg);
  REQUIRE(server);
  auto server_leaf = Certificate::parse(server->certificate_pem, "server");
  REQUIRE(server_leaf);
  CHECK(verify(*server_leaf, ca->certificate()) == 0);
  // Serials never repeat.
  CHECK(server->serial_hex != device->serial_hex);
}

TEST_CASE("a certificate never outlives its CA") {
  auto drbg = Drbg::deterministic(2);
  auto ca = CertificateAuthority::create("Short CA", "", validity_for_days(now(), 2), drbg);
  REQUIRE(ca);
  auto device = ca->issue(Role::kDevice, "gate-1", validity_for_days(now(), 825), drbg);
  REQUIRE(device);
  CHECK(device->not_after == ca->certificate().not_after());
}

TEST_CASE("a revocation list names revoked serials and mbedTLS refuses those certificates") {
  auto drbg = Drbg::deterministic(3);
  auto ca = CertificateAuthority::create("Operator CA", "Metro", validity_for_days(now(), 10), drbg);
  REQUIRE(ca);
  auto good = ca->issue(Role::kDevice, "gate-good", validity_for_days(now(), 5), drbg);
  auto bad = ca->issue(Role::kDevice, "gate-bad", validity_for_days(now(), 5), drbg);
  REQUIRE(good);
  REQUIRE(bad);
  const std::vector<faregate::keys::Revocation> revoked = {{bad->serial_hex, now() - 5}};
  auto pem = ca->revocation_list(revoked, 7, now() - 60, now() + 86'400, drbg);
  REQUIRE(pem);
  auto crl = RevocationList::parse(*pem, "crl");
  REQUIRE(crl);
  CHECK(crl->revoked_count() == 1);
  CHECK(crl->lists(bad->serial_hex));
  CHECK_FALSE(crl->lists(good->serial_hex));
  CHECK(verify(*Certificate::parse(good->certificate_pem, "good"), ca->certificate(), &*crl) == 0);
  CHECK((verify(*Certificate::parse(bad->certificate_pem, "bad"), ca->certificate(), &*crl) &
         MBEDTLS_X509_BADCERT_REVOKED) != 0);

  auto empty = ca->revocation_list({}, 8, now() - 60, now() + 86'400, drbg);
  REQUIRE(empty);
  auto empty_crl = RevocationList::parse(*empty, "empty crl");
  REQUIRE(empty_crl);
  CHECK(empty_crl->revoked_count() == 0);
  CHECK_FALSE(ca->revocation_list({}, 9, now(), now() - 1, drbg));
  const std::vector<faregate::keys::Revocation> garbage = {{"zz", now()}};
  CHECK_FALSE(ca->revocation_list(garbage, 9, now() - 60, now() + 60, drbg));
}

TEST_CASE("a CA refuses names it cannot put in a certificate safely") {
  auto drbg = Drbg::deterministic(4);
  CHECK_FALSE(CertificateAuthority::create("", "", validity_for_days(now(), 1), drbg));
  CHECK_FALSE(CertificateAuthority::create("Bad\\CA", "", validity_for_days(now(), 1), drbg));
  CHECK_FALSE(CertificateAuthority::create("CA", "", {now(), now()}, drbg));
  auto ca = CertificateAuthority::create("CA, with comma", "Org", validity_for_days(now(), 1), drbg);
  REQUIRE(ca);
  CHECK(ca->certificate().subject_common_name() == "CA, with comma");
  auto device = ca->issue(Role::kDevice, "gate-1", validity_for_days(now(), 1), drbg);
  REQUIRE(device);  // the escaped issuer name still chains
  for (const char* id : {"gate 1", "gate,O=x", "../x", "", "-gate"}) {
    INFO(id);
    CHECK_FALSE(ca->issue(Role::kDevice, id, validity_for_days(now(), 1), drbg));
  }
  CHECK_FALSE(ca->issue(Role::kBackoffice, "UPPER", validity_for_days(now(), 1), drbg));
}

TEST_CASE("a CA folder round-trips and revocation keeps a register") {
  TempDir dir;
  auto drbg = Drbg::deterministic(5);
  {
    auto pki = PkiDirectory::init(dir.path() / "pki", "Operator CA", "Metro", 30, now(), drbg);
    REQUIRE(pki);
    REQUIRE(pki->issue_device(dir.path() / "g1", "gate-1", 30, now(), drbg));
    REQUIRE(pki->issue_device(dir.path() / "g2", "gate-2", 30, now(), drbg));
  }
  auto pki = PkiDirectory::open(dir.path() / "pki");
  REQUIRE(pki);
  CHECK(pki->issued().size() == 2);
  auto revoked = pki->revoke_device("gate-2", "", now(), drbg, dir.path() / "installed.crl");
  REQUIRE(revoked);
  auto crl = RevocationList::load(dir.path() / "installed.crl");
  REQUIRE(crl);
  CHECK(crl->lists(pki->issued()[1].serial_hex));
  CHECK_FALSE(crl->lists(pki->issued()[0].serial_hex));
  auto reopened = PkiDirectory::open(dir.path() / "pki");
  REQUIRE(reopened);
  CHECK(reopened->revoked().size() == 1);
  CHECK(PkiDirectory::init(dir.path() / "pki", "Again", "", 30, now(), drbg).error().code ==
        faregate::ErrorCode::kConflict);
}
