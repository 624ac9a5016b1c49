#include "common/tls/tls_context.h"

#include <mbedtls/md.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include <cstring>
#include <optional>

#include "common/tls/mbedtls_handles.h"

namespace faregate::tls {

namespace {

// ECDHE for forward secrecy, ECDSA because every Faregate key is P-256, AES-GCM (AES-NI).
const int kCipherSuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    0,
};
const mbedtls_ecp_group_id kCurves[] = {
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE,
};

Result<std::unique_ptr<crypto::Drbg>> generator(std::unique_ptr<crypto::Drbg> given,
                                                std::string_view personalization) {
  if (given) return given;
  auto seeded = crypto::Drbg::from_system_entropy(personalization);
  if (!seeded) return std::unexpected(seeded.error());
  return std::make_unique<crypto::Drbg>(std::move(*seeded));
}

Status check_ca(const Certificate& ca, std::string_view what) {
  if (!ca.is_ca()) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + " is not a CA certificate (basicConstraints CA:FALSE)");
  }
  return {};
}

// mbedTLS checks a revocation list during every handshake; one that is not signed by the device
// CA or has expired makes it refuse every device. Find that out at start-up, with a clear reason,
// rather than as a fleet that cannot sync.
Status check_revocation_list(const RevocationList& list, const Certificate& ca) {
  const mbedtls_x509_crt& issuer = *ca.get();
  for (const mbedtls_x509_crl* crl = list.get(); crl != nullptr; crl = crl->next) {
    if (crl->raw.len == 0) continue;
    if (crl->issuer_raw.len != issuer.subject_raw.len ||
        std::memcmp(crl->issuer_raw.p, issuer.subject_raw.p, crl->issuer_raw.len) != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the revocation list is not issued by the device CA");
    }
    const mbedtls_md_info_t* md = mbedtls_md_info_from_type(crl->sig_md);
    if (md == nullptr) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the revocation list uses an unknown signature hash");
    }
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    if (mbedtls_md(md, crl->tbs.p, crl->tbs.len, hash) != 0 ||
        mbedtls_pk_verify_ext(crl->sig_pk, crl->sig_opts,
                              const_cast<mbedtls_pk_context*>(&issuer.pk), crl->sig_md, hash,
                              mbedtls_md_get_size(md), crl->sig.p, crl->sig.len) != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the revocation list's signature does not verify with the device CA");
    }
    if (mbedtls_x509_time_is_past(&crl->next_update)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the revocation list has expired (its next update was due); issue a "
                        "fresh one with faregate-keys crl");
    }
  }
  return {};
}

// Server side: a client certificate whose common name cannot be a device id is refused during
// the handshake, so that no session ever runs under an unusable identity. A technician's
// certificate (same operator CA, also clientAuth) is refused here: it must not upload taps.
int verify_device_certificate(void*, mbedtls_x509_crt* crt, int depth, std::uint32_t* flags) {
  if (depth == 0 && (!is_valid_device_id(common_name_of(*crt)) ||
                     organizational_unit_of(*crt) == kTechnicianUnit)) {
    *flags |= MBEDTLS_X509_BADCERT_OTHER;
  }
  return 0;
}

// The maintenance port: only certificates carrying the technician role marker. A device's or the
// back office's certificate from the same CA fails the handshake.
int verify_technician_certificate(void*, mbedtls_x509_crt* crt, int depth, std::uint32_t* flags) {
  if (depth == 0 && (!is_valid_device_id(common_name_of(*crt)) ||
                     organizational_unit_of(*crt) != kTechnicianUnit)) {
    *flags |= MBEDTLS_X509_BADCERT_OTHER;
  }
  return 0;
}

void common_settings(mbedtls_ssl_config& conf, crypto::Drbg& drbg) {
  mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(&conf, kCipherSuites);
  mbedtls_ssl_conf_curves(&conf, kCurves);
  mbedtls_ssl_conf_cert_profile(&conf, &mbedtls_x509_crt_profile_next);
  mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_rng(&conf, &crypto::Drbg::mbedtls_rng, &drbg);
  mbedtls_ssl_conf_renegotiation(&conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
}

Result<Certificate> parse_certificate(std::string_view pem, std::string_view what) {
  if (pem.empty()) return make_error(ErrorCode::kInvalidArgument, std::string(what) + " is missing");
  return Certificate::parse(pem, what);
}

}  // namespace

bool is_valid_device_id(std::string_view device_id) {
  if (device_id.empty() || device_id.size() > kMaxDeviceIdBytes) return false;
  // A leading letter or digit keeps "." and ".." (and hidden file names) out.
  const char first = device_id.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') ||
        (first >= '0' && first <= '9'))) {
    return false;
  }
  for (const char c : device_id) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '_' && c != '.' && c != ':') return false;
  }
  return true;
}

ServerFiles server_files_in(const std::filesystem::path& dir) {
  return ServerFiles{dir / kServerCertificateFile, dir / kServerKeyFile, dir / kDeviceCaFile,
                     dir / kRevocationListFile};
}

ClientFiles client_files_in(const std::filesystem::path& dir, std::string server_name) {
  return ClientFiles{dir / kDeviceCertificateFile, dir / kDeviceKeyFile, dir / kBackofficeCaFile,
                     std::move(server_name)};
}

Result<ServerPem> read_server_files(const ServerFiles& files) {
  ServerPem pem;
  for (auto [path, out] : {std::pair{&files.certificate, &pem.certificate},
                           std::pair{&files.private_key, &pem.private_key},
                           std::pair{&files.client_ca, &pem.client_ca}}) {
    auto text = read_text_file(*path);
    if (!text) return std::unexpected(text.error());
    *out = std::move(*text);
  }
  if (!files.revocation_list.empty()) {
    auto text = read_text_file(files.revocation_list);
    if (!text) return std::unexpected(text.error());
    pem.revocation_list = std::move(*text);
  }
  return pem;
}

Result<ClientPem> read_client_files(const ClientFiles& files) {
  ClientPem pem;
  for (auto [path, out] : {std::pair{&files.certificate, &pem.certificate},
                           std::pair{&files.private_key, &pem.private_key},
                           std::pair{&files.server_ca, &pem.server_ca}}) {
    auto text = read_text_file(*path);
    if (!text) return std::unexpected(text.error());
    *out = std::move(*text);
  }
  pem.server_name = files.server_name;
  return pem;
}

// ---- ServerContext ----

struct ServerContext::State {
  State(std::unique_ptr<crypto::Drbg> g, Certificate c, PrivateKey k, Certificate ca,
        std::optional<RevocationList> r)
      : drbg(std::move(g)),
        certificate(std::move(c)),
        key(std::move(k)),
        client_ca(std::move(ca)),
        revocations(std::move(r)) {
    mbedtls_ssl_config_init(&conf);
  }
  ~State() { mbedtls_ssl_config_free(&conf); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  std::unique_ptr<crypto::Drbg> drbg;
  Certificate certificate;
  PrivateKey key;
  Certificate client_ca;
  std::optional<RevocationList> revocations;
  std::string own_name;
  mbedtls_ssl_config conf;
};

ServerContext::ServerContext(std::unique_ptr<State> state) : state_(std::move(state)) {}
ServerContext::~ServerContext() = default;

Result<std::shared_ptr<const ServerContext>> ServerContext::create(
    const ServerPem& pem, std::unique_ptr<crypto::Drbg> drbg, ClientRole accepts) {
  auto certificate = parse_certificate(pem.certificate, "server certificate");
  if (!certificate) return std::unexpected(certificate.error());
  if (pem.private_key.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "server private key is missing");
  }
  auto key = PrivateKey::parse(pem.private_key, "server private key");
  if (!key) return std::unexpected(key.error());
  if (!key->matches(*certificate)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the server private key does not belong to the server certificate");
  }
  auto client_ca = parse_certificate(pem.client_ca, "device CA certificate");
  if (!client_ca) return std::unexpected(client_ca.error());
  if (auto s = check_ca(*client_ca, "the device CA certificate"); !s) return std::unexpected(s.error());
  std::optional<RevocationList> revocations;
  if (!pem.revocation_list.empty()) {
    auto parsed = RevocationList::parse(pem.revocation_list, "revocation list");
    if (!parsed) return std::unexpected(parsed.error());
    if (auto s = check_revocation_list(*parsed, *client_ca); !s) return std::unexpected(s.error());
    revocations = std::move(*parsed);
  }
  auto rng = generator(std::move(drbg), "faregate tls server");
  if (!rng) return std::unexpected(rng.error());

  auto state = std::make_unique<State>(std::move(*rng), std::move(*certificate), std::move(*key),
                                       std::move(*client_ca), std::move(revocations));
  state->own_name = state->certificate.subject_common_name();
  mbedtls_ssl_config& conf = state->conf;
  if (int rc = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                           MBEDTLS_SSL_PRESET_DEFAULT);
      rc != 0) {
    return make_error(ErrorCode::kCrypto, "TLS server defaults: " + mbedtls_error_text(rc));
  }
  common_settings(conf, *state->drbg);
  mbedtls_ssl_conf_verify(&conf,
                          accepts == ClientRole::kTechnician ? &verify_technician_certificate
                                                             : &verify_device_certificate,
                          nullptr);
  mbedtls_ssl_conf_ca_chain(&conf, state->client_ca.get(),
                            state->revocations ? state->revocations->get() : nullptr);
  if (int rc = mbedtls_ssl_conf_own_cert(&conf, state->certificate.get(), state->key.get());
      rc != 0) {
    return make_error(ErrorCode::kCrypto, "TLS server certificate: " + mbedtls_error_text(rc));
  }
  return std::shared_ptr<const ServerContext>(new ServerContext(std::move(state)));
}

Result<std::shared_ptr<const ServerContext>> ServerContext::load(
    const ServerFiles& files, std::unique_ptr<crypto::Drbg> drbg, ClientRole accepts) {
  auto pem = read_server_files(files);
  if (!pem) return std::unexpected(pem.error());
  auto context = create(*pem, std::move(drbg), accepts);
  std::fill(pem->private_key.begin(), pem->private_key.end(), '\0');
  if (!context) {
    return with_context(context.error(), "TLS server credentials (" + files.certificate.string() +
                                             ", " + files.private_key.string() + ", " +
                                             files.client_ca.string() +
                                             (files.revocation_list.empty()
                                                  ? std::string()
                                                  : ", " + files.revocation_list.string()) +
                                             ")");
  }
  return context;
}

const mbedtls_ssl_config* ServerContext::config() const { return &state_->conf; }
const std::string& ServerContext::own_name() const { return state_->own_name; }
std::size_t ServerContext::revoked_count() const {
  return state_->revocations ? state_->revocations->revoked_count() : 0;
}

// ---- ClientContext ----

struct ClientContext::State {
  State(std::unique_ptr<crypto::Drbg> g, Certificate c, PrivateKey k, Certificate ca)
      : drbg(std::move(g)), certificate(std::move(c)), key(std::move(k)), server_ca(std::move(ca)) {
    mbedtls_ssl_config_init(&conf);
  }
  ~State() { mbedtls_ssl_config_free(&conf); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  std::unique_ptr<crypto::Drbg> drbg;
  Certificate certificate;
  PrivateKey key;
  Certificate server_ca;
  std::string server_name;
  std::string device_id;
  mbedtls_ssl_config conf;
};

ClientContext::ClientContext(std::unique_ptr<State> state) : state_(std::move(state)) {}
ClientContext::~ClientContext() = default;

Result<std::shared_ptr<const ClientContext>> ClientContext::create(
    const ClientPem& pem, std::unique_ptr<crypto::Drbg> drbg) {
  auto certificate = parse_certificate(pem.certificate, "device certificate");
  if (!certificate) return std::unexpected(certificate.error());
  const std::string device_id = certificate->subject_common_name();
  if (!is_valid_device_id(device_id)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the device certificate's common name is not a valid device id");
  }
  if (pem.private_key.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "device private key is missing");
  }
  auto key = PrivateKey::parse(pem.private_key, "device private key");
  if (!key) return std::unexpected(key.error());
  if (!key->matches(*certificate)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the device private key does not belong to the device certificate");
  }
  auto server_ca = parse_certificate(pem.server_ca, "back-office CA certificate");
  if (!server_ca) return std::unexpected(server_ca.error());
  if (auto s = check_ca(*server_ca, "the back-office CA certificate"); !s) {
    return std::unexpected(s.error());
  }
  if (pem.server_name.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "the expected server name is empty");
  }
  auto rng = generator(std::move(drbg), "faregate tls client");
  if (!rng) return std::unexpected(rng.error());

  auto state = std::make_unique<State>(std::move(*rng), std::move(*certificate), std::move(*key),
                                       std::move(*server_ca));
  state->server_name = pem.server_name;
  state->device_id = device_id;
  mbedtls_ssl_config& conf = state->conf;
  if (int rc = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                           MBEDTLS_SSL_PRESET_DEFAULT);
      rc != 0) {
    return make_error(ErrorCode::kCrypto, "TLS client defaults: " + mbedtls_error_text(rc));
  }
  common_settings(conf, *state->drbg);
  mbedtls_ssl_conf_session_tickets(&conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
  mbedtls_ssl_conf_ca_chain(&conf, state->server_ca.get(), nullptr);
  if (int rc = mbedtls_ssl_conf_own_cert(&conf, state->certificate.get(), state->key.get());
      rc != 0) {
    return make_error(ErrorCode::kCrypto, "TLS client certificate: " + mbedtls_error_text(rc));
  }
  return std::shared_ptr<const ClientContext>(new ClientContext(std::move(state)));
}

Result<std::shared_ptr<const ClientContext>> ClientContext::load(
    const ClientFiles& files, std::unique_ptr<crypto::Drbg> drbg) {
  auto pem = read_client_files(files);
  if (!pem) return std::unexpected(pem.error());
  auto context = create(*pem, std::move(drbg));
  std::fill(pem->private_key.begin(), pem->private_key.end(), '\0');
  if (!context) {
    return with_context(context.error(), "TLS client credentials (" + files.certificate.string() +
                                             ", " + files.private_key.string() + ", " +
                                             files.server_ca.string() + ")");
  }
  return context;
}

const mbedtls_ssl_config* ClientContext::config() const { return &state_->conf; }
const std::string& ClientContext::server_name() const { return state_->server_name; }
const std::string& ClientContext::device_id() const { return state_->device_id; }

}  // namespace faregate::tls
