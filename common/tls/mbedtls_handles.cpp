#include "common/tls/mbedtls_handles.h"

#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace faregate::tls {

namespace {

// PEM parsers in mbedTLS want the terminating NUL counted in the length; DER must not have one.
std::string with_nul_if_pem(std::string_view input) {
  std::string buffer(input);
  if (buffer.find("-----BEGIN") != std::string::npos) buffer.push_back('\0');
  return buffer;
}

const unsigned char* as_uchar(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string format_time(const mbedtls_x509_time& t) {
  char text[32];
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02dZ", t.year, t.mon, t.day, t.hour,
                t.min, t.sec);
  return text;
}

}  // namespace

std::string mbedtls_error_text(int code) {
  std::array<char, 200> text{};
  mbedtls_strerror(code, text.data(), text.size());
  char hex[16];
  std::snprintf(hex, sizeof(hex), "-0x%04X", static_cast<unsigned>(code < 0 ? -code : code));
  return std::string(text.data()) + " (" + hex + ")";
}

Result<std::string> read_text_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return make_error(ErrorCode::kNotFound, "no such file: " + path.string());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::kIo, "cannot read " + path.string());
  return out.str();
}

// ---- Certificate ----

void Certificate::Free::operator()(mbedtls_x509_crt* crt) const noexcept {
  mbedtls_x509_crt_free(crt);
  delete crt;
}

Certificate::~Certificate() = default;

Result<Certificate> Certificate::parse(std::string_view pem_or_der, std::string_view what) {
  std::unique_ptr<mbedtls_x509_crt, Free> crt(new mbedtls_x509_crt);
  mbedtls_x509_crt_init(crt.get());
  const std::string buffer = with_nul_if_pem(pem_or_der);
  const int rc = mbedtls_x509_crt_parse(crt.get(), as_uchar(buffer), buffer.size());
  if (rc < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + ": not a certificate: " + mbedtls_error_text(rc));
  }
  if (rc > 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + ": " + std::to_string(rc) +
                          " of its certificates do not parse");
  }
  if (crt->raw.len == 0) {
    return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": holds no certificate");
  }
  return Certificate(std::move(crt));
}

Result<Certificate> Certificate::load(const std::filesystem::path& path) {
  auto text = read_text_file(path);
  if (!text) return std::unexpected(text.error());
  return parse(*text, path.string());
}

std::string common_name_of(const mbedtls_x509_crt& crt) {
  for (const mbedtls_x509_name* name = &crt.subject; name != nullptr; name = name->next) {
    if (name->oid.p != nullptr && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0) {
      return std::string(reinterpret_cast<const char*>(name->val.p), name->val.len);
    }
  }
  return {};
}

std::string organizational_unit_of(const mbedtls_x509_crt& crt) {
  for (const mbedtls_x509_name* name = &crt.subject; name != nullptr; name = name->next) {
    if (name->oid.p != nullptr && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORG_UNIT, &name->oid) == 0) {
      return std::string(reinterpret_cast<const char*>(name->val.p), name->val.len);
    }
  }
  return {};
}

std::string serial_hex_of(const mbedtls_x509_crt& crt) {
  return to_hex(ByteView(crt.serial.p, crt.serial.len));
}

std::string Certificate::subject_common_name() const { return common_name_of(*crt_); }
std::string Certificate::serial_hex() const { return serial_hex_of(*crt_); }
std::string Certificate::not_after() const { return format_time(crt_->valid_to); }
Bytes Certificate::der() const { return Bytes(crt_->raw.p, crt_->raw.p + crt_->raw.len); }
bool Certificate::is_ca() const { return crt_->ca_istrue != 0; }

// ---- RevocationList ----

void RevocationList::Free::operator()(mbedtls_x509_crl* crl) const noexcept {
  mbedtls_x509_crl_free(crl);
  delete crl;
}

RevocationList::~RevocationList() = default;

Result<RevocationList> RevocationList::parse(std::string_view pem_or_der, std::string_view what) {
  std::unique_ptr<mbedtls_x509_crl, Free> crl(new mbedtls_x509_crl);
  mbedtls_x509_crl_init(crl.get());
  const std::string buffer = with_nul_if_pem(pem_or_der);
  const int rc = mbedtls_x509_crl_parse(crl.get(), as_uchar(buffer), buffer.size());
  if (rc != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + ": not a revocation list: " + mbedtls_error_text(rc));
  }
  if (crl->raw.len == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + ": holds no revocation list");
  }
  return RevocationList(std::move(crl));
}

Result<RevocationList> RevocationList::load(const std::filesystem::path& path) {
  auto text = read_text_file(path);
  if (!text) return std::unexpected(text.error());
  return parse(*text, path.string());
}

std::size_t RevocationList::revoked_count() const {
  std::size_t count = 0;
  for (const mbedtls_x509_crl* crl = crl_.get(); crl != nullptr; crl = crl->next) {
    for (const mbedtls_x509_crl_entry* entry = &crl->entry; entry != nullptr; entry = entry->next) {
      if (entry->serial.len > 0) ++count;
    }
  }
  return count;
}

bool RevocationList::lists(std::string_view serial_hex) const {
  for (const mbedtls_x509_crl* crl = crl_.get(); crl != nullptr; crl = crl->next) {
    for (const mbedtls_x509_crl_entry* entry = &crl->entry; entry != nullptr; entry = entry->next) {
      if (entry->serial.len > 0 &&
          to_hex(ByteView(entry->serial.p, entry->serial.len)) == serial_hex) {
        return true;
      }
    }
  }
  return false;
}

// ---- PrivateKey ----

void PrivateKey::Free::operator()(mbedtls_pk_context* pk) const noexcept {
  mbedtls_pk_free(pk);
  delete pk;
}

PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::parse(std::string_view pem_or_der, std::string_view what) {
  std::unique_ptr<mbedtls_pk_context, Free> pk(new mbedtls_pk_context);
  mbedtls_pk_init(pk.get());
  std::string buffer = with_nul_if_pem(pem_or_der);
  const int rc = mbedtls_pk_parse_key(pk.get(), as_uchar(buffer), buffer.size(), nullptr, 0);
  // The buffer held key material: wipe it before it goes back to the allocator.
  std::fill(buffer.begin(), buffer.end(), '\0');
  if (rc != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + ": not a private key: " + mbedtls_error_text(rc));
  }
  return PrivateKey(std::move(pk));
}

Result<PrivateKey> PrivateKey::load(const std::filesystem::path& path) {
  auto text = read_text_file(path);
  if (!text) return std::unexpected(text.error());
  auto key = parse(*text, path.string());
  std::fill(text->begin(), text->end(), '\0');
  return key;
}

Result<PrivateKey> PrivateKey::generate_p256(crypto::Drbg& drbg) {
  std::unique_ptr<mbedtls_pk_context, Free> pk(new mbedtls_pk_context);
  mbedtls_pk_init(pk.get());
  if (int rc = mbedtls_pk_setup(pk.get(), mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)); rc != 0) {
    return make_error(ErrorCode::kCrypto, "cannot set up an EC key: " + mbedtls_error_text(rc));
  }
  if (int rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                   &crypto::Drbg::mbedtls_rng, &drbg);
      rc != 0) {
    return make_error(ErrorCode::kCrypto, "cannot generate a P-256 key: " + mbedtls_error_text(rc));
  }
  return PrivateKey(std::move(pk));
}

Result<std::string> PrivateKey::to_pem() const {
  std::string buffer(4096, '\0');
  const int rc = mbedtls_pk_write_key_pem(pk_.get(), reinterpret_cast<unsigned char*>(buffer.data()),
                                          buffer.size());
  if (rc != 0) return make_error(ErrorCode::kCrypto, "cannot write key: " + mbedtls_error_text(rc));
  std::string pem(buffer.c_str());
  std::fill(buffer.begin(), buffer.end(), '\0');
  return pem;
}

Result<std::string> PrivateKey::public_pem() const {
  std::string buffer(4096, '\0');
  const int rc = mbedtls_pk_write_pubkey_pem(
      pk_.get(), reinterpret_cast<unsigned char*>(buffer.data()), buffer.size());
  if (rc != 0) {
    return make_error(ErrorCode::kCrypto, "cannot write public key: " + mbedtls_error_text(rc));
  }
  return std::string(buffer.c_str());
}

bool PrivateKey::matches(const Certificate& certificate) const {
  return mbedtls_pk_check_pair(&certificate.get()->pk, pk_.get()) == 0;
}

}  // namespace faregate::tls
