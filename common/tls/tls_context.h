#pragma once
// TLS 1.2 configurations for the sync link, one per side, both with mutual authentication:
//
// - ServerContext (back office): presents the back-office certificate, requires a client
//   certificate issued by the pinned device CA, refuses certificates the device CA revoked (its
//   revocation list), and refuses a certificate whose subject common name is not a usable device
//   id. The device id of a connection is that common name and nothing else.
// - ClientContext (validator): presents the device certificate, requires the back office's
//   certificate to be issued by the pinned back-office CA and to carry the expected server name.
//
// Only TLS 1.2, ECDHE-ECDSA with AES-GCM on P-256/P-384, the "next" mbedTLS certificate profile
// (SHA-256 and up), no renegotiation, no session resumption (a resumed session would skip the
// revocation check). A context is immutable once built and shared by every connection through a
// shared_ptr; to reload credentials, build a new context (connections keep the one they started
// with). Thread safety: a built context may be used by connections on any thread (its random
// generator is mbedTLS CTR_DRBG, which locks internally).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/error.h"

struct mbedtls_ssl_config;

namespace faregate::tls {

// The name a back-office certificate carries unless the operator chose another.
inline constexpr std::string_view kDefaultServerName = "faregate-backoffice";
// Device ids are short names ("gate-12-north"), as in the sync protocol's Hello.
inline constexpr std::size_t kMaxDeviceIdBytes = 128;
// Role marker (subject OU) of a technician's client certificate (faregate-keys issue-technician):
// the only certificates a validator's maintenance port accepts, and ones the back office refuses.
inline constexpr std::string_view kTechnicianUnit = "faregate-technician";
// The name (subjectAltName) in every validator's maintenance-port certificate (faregate-keys
// issue-maintenance); faregate-flash expects it, so a back-office certificate cannot stand in.
inline constexpr std::string_view kMaintenanceServerName = "faregate-maintenance";
inline constexpr std::string_view kMaintenanceCertificateFile = "maintenance.crt";
inline constexpr std::string_view kMaintenanceKeyFile = "maintenance.key";

// Whose client certificates a ServerContext accepts.
enum class ClientRole {
  kDevice,      // validators syncing with the back office: no role marker, CN a device id
  kTechnician,  // technicians at a validator's maintenance port: OU = kTechnicianUnit
};

// 1 to 128 characters from [A-Za-z0-9._:-], the first a letter or digit: safe as a certificate common name (no character
// that X.509 name strings escape), a file name and a log field.
bool is_valid_device_id(std::string_view device_id);

struct ServerPem {
  std::string certificate;      // the back office's certificate (leaf first, then any chain)
  std::string private_key;      // its key
  std::string client_ca;        // the device CA: the only issuer of acceptable client certificates
  std::string revocation_list;  // the device CA's revocation list; empty: none revoked
};

struct ServerFiles {
  std::filesystem::path certificate;
  std::filesystem::path private_key;
  std::filesystem::path client_ca;
  std::filesystem::path revocation_list;  // empty path: none
};

struct ClientPem {
  std::string certificate;  // the device certificate; its common name is the device id
  std::string private_key;
  std::string server_ca;    // the back-office CA: the only issuer of an acceptable server
  std::string server_name = std::string(kDefaultServerName);  // expected in the server certificate
};

struct ClientFiles {
  std::filesystem::path certificate;
  std::filesystem::path private_key;
  std::filesystem::path server_ca;
  std::string server_name = std::string(kDefaultServerName);
};

// The file names faregate-keys writes and the daemons read from a credentials folder
// (conventionally DATA_DIR/tls; docs/provisioning.md).
inline constexpr std::string_view kServerCertificateFile = "server.crt";
inline constexpr std::string_view kServerKeyFile = "server.key";
inline constexpr std::string_view kDeviceCaFile = "device-ca.crt";
inline constexpr std::string_view kRevocationListFile = "revoked.crl";
inline constexpr std::string_view kDeviceCertificateFile = "device.crt";
inline constexpr std::string_view kDeviceKeyFile = "device.key";
inline constexpr std::string_view kBackofficeCaFile = "backoffice-ca.crt";

// The back office's files in `dir`; the revocation list is part of the set (faregate-keys
// always writes one, empty at first), so that deleting it is an error rather than an amnesty.
ServerFiles server_files_in(const std::filesystem::path& dir);
ClientFiles client_files_in(const std::filesystem::path& dir,
                            std::string server_name = std::string(kDefaultServerName));

Result<ServerPem> read_server_files(const ServerFiles& files);
Result<ClientPem> read_client_files(const ClientFiles& files);

class ServerContext {
 public:
  // Parses and checks everything now: the key matches the certificate, the client CA is a CA,
  // the revocation list is signed by that CA and has not expired. `drbg`: the generator for
  // handshakes; null seeds one from system entropy. Errors: kInvalidArgument (bad or mismatched
  // credentials, with the file named when loading), kNotFound/kIo (files), kCrypto.
  // `accepts`: whose client certificates the handshake lets through (others fail it as
  // "bad_certificate").
  static Result<std::shared_ptr<const ServerContext>> create(
      const ServerPem& pem, std::unique_ptr<crypto::Drbg> drbg = nullptr,
      ClientRole accepts = ClientRole::kDevice);
  static Result<std::shared_ptr<const ServerContext>> load(
      const ServerFiles& files, std::unique_ptr<crypto::Drbg> drbg = nullptr,
      ClientRole accepts = ClientRole::kDevice);

  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  const mbedtls_ssl_config* config() const;
  // Common name of the back office's own certificate.
  const std::string& own_name() const;
  std::size_t revoked_count() const;

 private:
  struct State;
  explicit ServerContext(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class ClientContext {
 public:
  // Checks that the key matches the certificate, that the certificate's common name is a valid
  // device id and that the server CA is a CA. Errors as ServerContext::create.
  static Result<std::shared_ptr<const ClientContext>> create(
      const ClientPem& pem, std::unique_ptr<crypto::Drbg> drbg = nullptr);
  static Result<std::shared_ptr<const ClientContext>> load(
      const ClientFiles& files, std::unique_ptr<crypto::Drbg> drbg = nullptr);

  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  const mbedtls_ssl_config* config() const;
  const std::string& server_name() const;
  // The device id in this validator's own certificate.
  const std::string& device_id() const;

 private:
  struct State;
  explicit ClientContext(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace faregate::tls
