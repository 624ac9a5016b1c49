#include "tools/keys/certificate_authority.h"

#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/tls/tls_context.h"

namespace faregate::keys {

namespace {

// 0000-01-01 .. 9999-12-31: what four-digit X.509 times can say.
constexpr std::int64_t kLatestTime = 253'402'300'799;
constexpr std::size_t kMaxNameBytes = 64;
constexpr std::size_t kSerialBytes = 16;

struct Civil {
  int year;
  unsigned month, day, hour, minute, second;
};

Civil civil_from_epoch(std::int64_t epoch_seconds) {
  using namespace std::chrono;
  const sys_seconds t{seconds(epoch_seconds)};
  const auto midnight = floor<days>(t);
  const year_month_day ymd{midnight};
  const hh_mm_ss hms{t - midnight};
  return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()), static_cast<unsigned>(hms.hours().count()),
          static_cast<unsigned>(hms.minutes().count()),
          static_cast<unsigned>(hms.seconds().count())};
}

// "YYYYMMDDhhmmss", as mbedtls_x509write_crt_set_validity wants it.
std::string x509write_time(std::int64_t epoch_seconds) {
  const Civil c = civil_from_epoch(epoch_seconds);
  char text[32];
  std::snprintf(text, sizeof(text), "%04d%02u%02u%02u%02u%02u", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return text;
}

bool in_time_range(std::int64_t t) { return t >= 0 && t <= kLatestTime; }

// Names the operator chooses: printable ASCII, and no backslash (mbedTLS name strings can escape
// only a comma).
Status check_name(std::string_view name, std::string_view what) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + " must have 1 to " + std::to_string(kMaxNameBytes) +
                          " characters");
  }
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '\\') {
      return make_error(ErrorCode::kInvalidArgument,
                        std::string(what) + " may hold printable ASCII only, without '\\'");
    }
  }
  return {};
}

// A server name is matched against the certificate's DNS name: keep it a host name.
Status check_server_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return make_error(ErrorCode::kInvalidArgument, "the server name must have 1 to 64 characters");
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the server name may hold lower-case letters, digits, '-' and '.' only");
    }
  }
  return {};
}

std::string escape_name_value(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == ',') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string name_string(std::string_view common_name, std::string_view organization) {
  std::string name = "CN=" + escape_name_value(common_name);
  if (!organization.empty()) name += ",O=" + escape_name_value(organization);
  return name;
}

std::string organization_of(const mbedtls_x509_crt& crt) {
  for (const mbedtls_x509_name* name = &crt.subject; name != nullptr; name = name->next) {
    if (name->oid.p != nullptr && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &name->oid) == 0) {
      return std::string(reinterpret_cast<const char*>(name->val.p), name->val.len);
    }
  }
  return {};
}

// DER of a short value: tag, one length byte (callers keep contents under 128 bytes), contents.
std::string der_short(std::uint8_t tag, std::string_view contents) {
  std::string out;
  out.push_back(static_cast<char>(tag));
  out.push_back(static_cast<char>(contents.size()));
  out.append(contents);
  return out;
}

std::string oid_text(const char* oid, std::size_t length) { return std::string(oid, length); }

struct CertificateSpec {
  std::string subject;
  std::string issuer;
  mbedtls_pk_context* subject_key = nullptr;
  mbedtls_pk_context* issuer_key = nullptr;
  Validity validity;
  bool is_ca = false;
  unsigned key_usage = 0;
  std::string ext_key_usage_oid;  // empty: no extendedKeyUsage
  std::string dns_name;           // empty: no subjectAltName
};

Result<std::string> write_certificate(const CertificateSpec& spec, crypto::Drbg& drbg) {
  mbedtls_x509write_cert writer;
  mbedtls_x509write_crt_init(&writer);
  mbedtls_mpi serial;
  mbedtls_mpi_init(&serial);
  struct Cleanup {
    mbedtls_x509write_cert* w;
    mbedtls_mpi* s;
    ~Cleanup() {
      mbedtls_x509write_crt_free(w);
      mbedtls_mpi_free(s);
    }
  } cleanup{&writer, &serial};

  // A random 16-byte positive serial with its top bits fixed, so that every serial encodes in
  // exactly 16 bytes and never repeats in practice (CAs must not reuse serials).
  std::array<std::uint8_t, kSerialBytes> serial_bytes{};
  if (auto s = drbg.fill(serial_bytes); !s) return std::unexpected(s.error());
  serial_bytes[0] = static_cast<std::uint8_t>((serial_bytes[0] & 0x3F) | 0x40);

  auto fail = [](std::string_view step, int rc) {
    return make_error(ErrorCode::kCrypto,
                      "writing a certificate: " + std::string(step) + ": " +
                          tls::mbedtls_error_text(rc));
  };
  mbedtls_x509write_crt_set_version(&writer, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&writer, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&writer, spec.subject_key);
  mbedtls_x509write_crt_set_issuer_key(&writer, spec.issuer_key);
  if (int rc = mbedtls_mpi_read_binary(&serial, serial_bytes.data(), serial_bytes.size()); rc != 0) {
    return fail("serial", rc);
  }
  if (int rc = mbedtls_x509write_crt_set_serial(&writer, &serial); rc != 0) return fail("serial", rc);
  const std::string not_before = x509write_time(spec.validity.not_before);
  const std::string not_after = x509write_time(spec.validity.not_after);
  if (int rc = mbedtls_x509write_crt_set_validity(&writer, not_before.c_str(), not_after.c_str());
      rc != 0) {
    return fail("validity", rc);
  }
  if (int rc = mbedtls_x509write_crt_set_subject_name(&writer, spec.subject.c_str()); rc != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the subject name is not usable: " + tls::mbedtls_error_text(rc));
  }
  if (int rc = mbedtls_x509write_crt_set_issuer_name(&writer, spec.issuer.c_str()); rc != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the issuer name is not usable: " + tls::mbedtls_error_text(rc));
  }
  if (int rc = mbedtls_x509write_crt_set_basic_constraints(&writer, spec.is_ca ? 1 : 0,
                                                           spec.is_ca ? 0 : -1);
      rc != 0) {
    return fail("basic constraints", rc);
  }
  if (int rc = mbedtls_x509write_crt_set_subject_key_identifier(&writer); rc != 0) {
    return fail("subject key identifier", rc);
  }
  if (int rc = mbedtls_x509write_crt_set_authority_key_identifier(&writer); rc != 0) {
    return fail("authority key identifier", rc);
  }
  if (int rc = mbedtls_x509write_crt_set_key_usage(&writer, spec.key_usage); rc != 0) {
    return fail("key usage", rc);
  }
  if (!spec.ext_key_usage_oid.empty()) {
    const std::string value = der_short(MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE,
                                        der_short(MBEDTLS_ASN1_OID, spec.ext_key_usage_oid));
    if (int rc = mbedtls_x509write_crt_set_extension(
            &writer, MBEDTLS_OID_EXTENDED_KEY_USAGE, MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE),
            0, reinterpret_cast<const unsigned char*>(value.data()), value.size());
        rc != 0) {
      return fail("extended key usage", rc);
    }
  }
  if (!spec.dns_name.empty()) {
    // GeneralNames ::= SEQUENCE OF GeneralName; dNSName is [2] IA5String (implicit).
    const std::string value = der_short(MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE,
                                        der_short(MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2, spec.dns_name));
    if (int rc = mbedtls_x509write_crt_set_extension(
            &writer, MBEDTLS_OID_SUBJECT_ALT_NAME, MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
            reinterpret_cast<const unsigned char*>(value.data()), value.size());
        rc != 0) {
      return fail("subject alternative name", rc);
    }
  }
  std::vector<unsigned char> pem(8192, 0);
  if (int rc = mbedtls_x509write_crt_pem(&writer, pem.data(), pem.size(), &crypto::Drbg::mbedtls_rng,
                                         &drbg);
      rc != 0) {
    return fail("signing", rc);
  }
  return std::string(reinterpret_cast<const char*>(pem.data()));
}

Status check_validity(const Validity& v) {
  if (!in_time_range(v.not_before) || !in_time_range(v.not_after)) {
    return make_error(ErrorCode::kInvalidArgument, "validity outside years 1970..9999");
  }
  if (v.not_after <= v.not_before) {
    return make_error(ErrorCode::kInvalidArgument, "the validity period is empty");
  }
  return {};
}

std::int64_t epoch_of(const mbedtls_x509_time& t) {
  namespace chrono = std::chrono;
  const chrono::sys_days date{chrono::year{t.year} / chrono::month{static_cast<unsigned>(t.mon)} /
                              chrono::day{static_cast<unsigned>(t.day)}};
  return chrono::duration_cast<chrono::seconds>(date.time_since_epoch()).count() + t.hour * 3600 +
         t.min * 60 + t.sec;
}

// ---- revocation list (DER, written back to front as mbedTLS's ASN.1 writer does) ----

// UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280, 5.1.2.4).
int write_time(unsigned char** p, unsigned char* start, std::int64_t epoch_seconds) {
  const Civil c = civil_from_epoch(epoch_seconds);
  char text[32];
  int tag = MBEDTLS_ASN1_UTC_TIME;
  if (c.year < 2050) {
    std::snprintf(text, sizeof(text), "%02d%02u%02u%02u%02u%02uZ", c.year % 100, c.month, c.day,
                  c.hour, c.minute, c.second);
  } else {
    tag = MBEDTLS_ASN1_GENERALIZED_TIME;
    std::snprintf(text, sizeof(text), "%04d%02u%02u%02u%02u%02uZ", c.year, c.month, c.day, c.hour,
                  c.minute, c.second);
  }
  return mbedtls_asn1_write_tagged_string(p, start, tag, text, std::strlen(text));
}

// AlgorithmIdentifier for ecdsa-with-SHA256, without parameters (RFC 5758, 3.2).
int write_ecdsa_sha256(unsigned char** p, unsigned char* start) {
  int len = 0;
  int ret = mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_ECDSA_SHA256,
                                   MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256));
  if (ret < 0) return ret;
  len += ret;
  if ((ret = mbedtls_asn1_write_len(p, start, static_cast<std::size_t>(len))) < 0) return ret;
  len += ret;
  if ((ret = mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0) {
    return ret;
  }
  return len + ret;
}

// Wraps the `len` bytes just written in a tag and length.
int wrap(unsigned char** p, unsigned char* start, int len, unsigned char tag) {
  int ret = mbedtls_asn1_write_len(p, start, static_cast<std::size_t>(len));
  if (ret < 0) return ret;
  int added = ret;
  if ((ret = mbedtls_asn1_write_tag(p, start, tag)) < 0) return ret;
  return len + added + ret;
}

constexpr unsigned char kSequence = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;

}  // namespace

Validity validity_for_days(std::int64_t now, int days) {
  return Validity{now - 3600, now + static_cast<std::int64_t>(days) * 86'400};
}

Result<CertificateAuthority> CertificateAuthority::create(std::string_view common_name,
                                                          std::string_view organization,
                                                          Validity validity, crypto::Drbg& drbg) {
  if (auto s = check_name(common_name, "the CA name"); !s) return std::unexpected(s.error());
  if (!organization.empty()) {
    if (auto s = check_name(organization, "the organization"); !s) return std::unexpected(s.error());
  }
  if (auto s = check_validity(validity); !s) return std::unexpected(s.error());
  auto key = tls::PrivateKey::generate_p256(drbg);
  if (!key) return std::unexpected(key.error());
  CertificateSpec spec;
  spec.subject = name_string(common_name, organization);
  spec.issuer = spec.subject;
  spec.subject_key = key->get();
  spec.issuer_key = key->get();
  spec.validity = validity;
  spec.is_ca = true;
  spec.key_usage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN;
  auto pem = write_certificate(spec, drbg);
  if (!pem) return std::unexpected(pem.error());
  auto certificate = tls::Certificate::parse(*pem, "new CA certificate");
  if (!certificate) return std::unexpected(certificate.error());
  return CertificateAuthority(std::move(*certificate), std::move(*pem), std::move(*key),
                              std::string(common_name), std::string(organization));
}

std::int64_t CertificateAuthority::valid_until() const {
  return epoch_of(certificate_.get()->valid_to);
}

Result<CertificateAuthority> CertificateAuthority::load(std::string_view certificate_pem,
                                                        std::string_view private_key_pem) {
  auto certificate = tls::Certificate::parse(certificate_pem, "CA certificate");
  if (!certificate) return std::unexpected(certificate.error());
  if (!certificate->is_ca()) {
    return make_error(ErrorCode::kInvalidArgument, "the CA certificate is not a CA (CA:FALSE)");
  }
  auto key = tls::PrivateKey::parse(private_key_pem, "CA private key");
  if (!key) return std::unexpected(key.error());
  if (!key->matches(*certificate)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the CA private key does not belong to the CA certificate");
  }
  std::string common_name = certificate->subject_common_name();
  std::string organization = organization_of(*certificate->get());
  if (auto s = check_name(common_name, "the CA name"); !s) return std::unexpected(s.error());
  return CertificateAuthority(std::move(*certificate), std::string(certificate_pem),
                              std::move(*key), std::move(common_name), std::move(organization));
}

Result<IssuedKeyPair> CertificateAuthority::issue(Role role, std::string_view common_name,
                                                  Validity validity, crypto::Drbg& drbg) const {
  if (role != Role::kBackoffice) {
    if (!tls::is_valid_device_id(common_name)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "'" + std::string(common_name) +
                            "' is not a valid device id or technician name (1 to 128 of A-Z a-z 0-9 . _ : -, "
                            "starting with a letter or digit)");
    }
  } else if (auto s = check_server_name(common_name); !s) {
    return std::unexpected(s.error());
  }
  if (auto s = check_validity(validity); !s) return std::unexpected(s.error());
  // Nothing outlives its issuer: a chain is only as valid as its CA.
  const std::int64_t ca_from = epoch_of(certificate_.get()->valid_from);
  const std::int64_t ca_to = epoch_of(certificate_.get()->valid_to);
  validity.not_before = std::max(validity.not_before, ca_from);
  validity.not_after = std::min(validity.not_after, ca_to);
  if (validity.not_after <= validity.not_before) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the CA is not valid during the requested period (it expires " +
                          certificate_.not_after() + ")");
  }

  auto key = tls::PrivateKey::generate_p256(drbg);
  if (!key) return std::unexpected(key.error());
  CertificateSpec spec;
  spec.subject = name_string(common_name, organization_);
  if (role == Role::kTechnician) spec.subject += ",OU=" + std::string(tls::kTechnicianUnit);
  spec.issuer = name_string(common_name_, organization_);
  spec.subject_key = key->get();
  spec.issuer_key = key_.get();
  spec.validity = validity;
  spec.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  if (role == Role::kDevice || role == Role::kTechnician) {
    spec.ext_key_usage_oid = oid_text(MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH));
  } else if (role == Role::kMaintenance) {
    spec.ext_key_usage_oid = oid_text(MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH));
    spec.dns_name = std::string(tls::kMaintenanceServerName);
  } else {
    spec.ext_key_usage_oid = oid_text(MBEDTLS_OID_SERVER_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH));
    spec.dns_name = std::string(common_name);
  }
  auto pem = write_certificate(spec, drbg);
  if (!pem) return std::unexpected(pem.error());
  auto issued = tls::Certificate::parse(*pem, "issued certificate");
  if (!issued) return std::unexpected(issued.error());

  // Check the chain now, so that a CA whose name does not round-trip never hands out a
  // certificate that nothing will accept.
  std::uint32_t flags = 0;
  if (int rc = mbedtls_x509_crt_verify(issued->get(), certificate_.get(), nullptr, nullptr, &flags,
                                       nullptr, nullptr);
      rc != 0 && (flags & ~(MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCERT_EXPIRED)) != 0) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "%x", flags);
    return make_error(ErrorCode::kInternal,
                      "the issued certificate does not verify against its CA (flags 0x" +
                          std::string(hex) + ")");
  }
  auto key_pem = key->to_pem();
  if (!key_pem) return std::unexpected(key_pem.error());
  IssuedKeyPair out;
  out.serial_hex = issued->serial_hex();
  out.not_after = issued->not_after();
  out.certificate_pem = std::move(*pem);
  out.private_key_pem = std::move(*key_pem);
  return out;
}

Result<std::string> CertificateAuthority::revocation_list(std::span<const Revocation> revoked,
                                                          std::uint64_t crl_number,
                                                          std::int64_t this_update,
                                                          std::int64_t next_update,
                                                          crypto::Drbg& drbg) const {
  if (!in_time_range(this_update) || !in_time_range(next_update) || next_update <= this_update) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a revocation list needs this_update < next_update, within years 1970..9999");
  }
  std::vector<Bytes> serials;
  serials.reserve(revoked.size());
  for (const auto& r : revoked) {
    auto serial = from_hex(r.serial_hex);
    if (!serial || serial->empty() || serial->size() > 20) {
      return make_error(ErrorCode::kInvalidArgument,
                        "'" + r.serial_hex + "' is not a certificate serial (1 to 20 bytes in hex)");
    }
    if (!in_time_range(r.revoked_at)) {
      return make_error(ErrorCode::kInvalidArgument, "a revocation time is out of range");
    }
    serials.push_back(std::move(*serial));
  }

  const mbedtls_x509_crt& ca = *certificate_.get();
  std::vector<unsigned char> buffer(2048 + revoked.size() * 64 + ca.subject_raw.len);
  unsigned char* const start = buffer.data();
  unsigned char* p = start + buffer.size();
  auto failed = [](int rc) {
    return make_error(ErrorCode::kCrypto, "writing a revocation list: " + tls::mbedtls_error_text(rc));
  };
  int tbs_len = 0;
  int ret = 0;
#define FG_ASN1(call)                     \
  do {                                    \
    if ((ret = (call)) < 0) return failed(ret); \
  } while (0)

  // crlExtensions [0] EXPLICIT SEQUENCE { Extension { cRLNumber, OCTET STRING { INTEGER } } }
  {
    int ext_len = 0;
    mbedtls_mpi number;
    mbedtls_mpi_init(&number);
    // Big-endian bytes: a 64-bit number does not fit mbedtls_mpi_lset's signed int.
    std::array<unsigned char, 8> be{};
    for (std::size_t i = 0; i < be.size(); ++i) {
      be[be.size() - 1 - i] = static_cast<unsigned char>(crl_number >> (8 * i));
    }
    ret = mbedtls_mpi_read_binary(&number, be.data(), be.size());
    if (ret == 0) ret = mbedtls_asn1_write_mpi(&p, start, &number);
    mbedtls_mpi_free(&number);
    if (ret < 0) return failed(ret);
    ext_len = ret;
    FG_ASN1(ext_len = wrap(&p, start, ext_len, MBEDTLS_ASN1_OCTET_STRING));
    static constexpr char kCrlNumberOid[] = "\x55\x1D\x14";  // 2.5.29.20
    FG_ASN1(mbedtls_asn1_write_oid(&p, start, kCrlNumberOid, 3));
    ext_len += ret;
    FG_ASN1(ext_len = wrap(&p, start, ext_len, kSequence));   // Extension
    FG_ASN1(ext_len = wrap(&p, start, ext_len, kSequence));   // Extensions
    FG_ASN1(ext_len = wrap(&p, start, ext_len,
                           MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0));
    tbs_len += ext_len;
  }
  // revokedCertificates, omitted when empty (RFC 5280, 5.1.2.6).
  if (!revoked.empty()) {
    int list_len = 0;
    for (std::size_t i = revoked.size(); i-- > 0;) {
      int entry_len = 0;
      FG_ASN1(write_time(&p, start, revoked[i].revoked_at));
      entry_len += ret;
      int serial_len = 0;
      FG_ASN1(serial_len = mbedtls_asn1_write_raw_buffer(&p, start, serials[i].data(),
                                                         serials[i].size()));
      FG_ASN1(serial_len = wrap(&p, start, serial_len, MBEDTLS_ASN1_INTEGER));
      entry_len += serial_len;
      FG_ASN1(entry_len = wrap(&p, start, entry_len, kSequence));
      list_len += entry_len;
    }
    FG_ASN1(list_len = wrap(&p, start, list_len, kSequence));
    tbs_len += list_len;
  }
  FG_ASN1(write_time(&p, start, next_update));
  tbs_len += ret;
  FG_ASN1(write_time(&p, start, this_update));
  tbs_len += ret;
  // The issuer exactly as the CA certificate encodes its subject: mbedTLS matches them byte for
  // byte.
  FG_ASN1(mbedtls_asn1_write_raw_buffer(&p, start, ca.subject_raw.p, ca.subject_raw.len));
  tbs_len += ret;
  FG_ASN1(write_ecdsa_sha256(&p, start));
  tbs_len += ret;
  FG_ASN1(mbedtls_asn1_write_int(&p, start, 1));  // version v2
  tbs_len += ret;
  FG_ASN1(tbs_len = wrap(&p, start, tbs_len, kSequence));
  unsigned char* const tbs = p;

  unsigned char hash[32];
  if (int rc = mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), tbs,
                          static_cast<std::size_t>(tbs_len), hash);
      rc != 0) {
    return failed(rc);
  }
  unsigned char signature[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  std::size_t signature_len = 0;
  if (int rc = mbedtls_pk_sign(key_.get(), MBEDTLS_MD_SHA256, hash, sizeof(hash), signature,
                               &signature_len, &crypto::Drbg::mbedtls_rng, &drbg);
      rc != 0) {
    return failed(rc);
  }
  // Signature and its algorithm go after the TBS: write them into a second buffer, then join.
  std::vector<unsigned char> tail(256);
  unsigned char* const tail_start = tail.data();
  unsigned char* q = tail_start + tail.size();
  int tail_len = 0;
  if ((ret = mbedtls_asn1_write_bitstring(&q, tail_start, signature, signature_len * 8)) < 0) {
    return failed(ret);
  }
  tail_len += ret;
  if ((ret = write_ecdsa_sha256(&q, tail_start)) < 0) return failed(ret);
  tail_len += ret;
#undef FG_ASN1

  std::vector<unsigned char> body(tbs, tbs + tbs_len);
  body.insert(body.end(), q, q + tail_len);
  std::vector<unsigned char> der(body.size() + 8);
  unsigned char* const der_start = der.data();
  unsigned char* r = der_start + der.size();
  if ((ret = mbedtls_asn1_write_raw_buffer(&r, der_start, body.data(), body.size())) < 0 ||
      (ret = wrap(&r, der_start, ret, kSequence)) < 0) {
    return failed(ret);
  }
  std::vector<unsigned char> pem(static_cast<std::size_t>(ret) * 2 + 128);
  std::size_t pem_len = 0;
  if (int rc = mbedtls_pem_write_buffer("-----BEGIN X509 CRL-----\n", "-----END X509 CRL-----\n", r,
                                        static_cast<std::size_t>(ret), pem.data(), pem.size(),
                                        &pem_len);
      rc != 0) {
    return failed(rc);
  }
  return std::string(reinterpret_cast<const char*>(pem.data()));
}

}  // namespace faregate::keys
