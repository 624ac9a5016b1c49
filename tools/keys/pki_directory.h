#pragma once
// keys::PkiDirectory: the operator's certificate authority as a folder on disk, and the
// provisioning steps faregate-keys runs on it. One operator CA issues both the back office's
// server certificate and every device certificate; the certificates' extended key usages keep
// the two roles apart (a device certificate cannot serve as a back office, nor the reverse).
//
// Folder layout (docs/provisioning.md):
//   ca.crt        the CA certificate (public; pinned by both sides)
//   ca.key        its private key (0600; keep this folder offline)
//   issued.tsv    one line per issued certificate: serial, role, name, not_after, issued_at
//   revoked.tsv   one line per revoked certificate: serial, revoked_at, name
//   revoked.crl   the current revocation list (PEM X.509 CRL), rewritten on every revocation
//
// What it writes for the daemons (tls::server_files_in / tls::client_files_in name the files):
//   back office: server.crt, server.key, device-ca.crt, revoked.crl
//   validator:   device.crt, device.key, backoffice-ca.crt
// Private keys are created with mode 0600; nothing existing is overwritten unless asked.
//
// "now" and randomness are parameters (the CLI passes the system clock and system entropy).

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/error.h"
#include "tools/keys/certificate_authority.h"

namespace faregate::keys {

inline constexpr const char* kCaCertificateFile = "ca.crt";
inline constexpr const char* kCaKeyFile = "ca.key";
inline constexpr const char* kIssuedFile = "issued.tsv";
inline constexpr const char* kRevokedFile = "revoked.tsv";
inline constexpr const char* kCaRevocationListFile = "revoked.crl";

struct IssuedRecord {
  std::string serial_hex;
  std::string role;  // "device", "backoffice", "technician" or "maintenance"
  std::string name;  // device id or server name
  std::string not_after;
  std::int64_t issued_at = 0;
};

struct RevokedRecord {
  std::string serial_hex;
  std::int64_t revoked_at = 0;
  std::string name;
};

// What a provisioning step wrote.
struct Written {
  std::vector<std::filesystem::path> files;
  std::string name;        // device id or server name ("" for CA-level steps)
  std::string serial_hex;  // the new certificate's serial ("" when none was issued)
  std::string not_after;
};

class PkiDirectory {
 public:
  // Creates `dir` (it must not hold a CA yet) with a new CA valid for `days`, an empty revocation
  // list and empty registers. Errors: kConflict (a CA is already there), kInvalidArgument, kIo.
  static Result<PkiDirectory> init(const std::filesystem::path& dir, std::string_view common_name,
                                   std::string_view organization, int days, std::int64_t now,
                                   crypto::Drbg& drbg);
  // Opens an existing CA folder. Errors: kNotFound, kInvalidArgument (unreadable registers or
  // credentials), kIo.
  static Result<PkiDirectory> open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const CertificateAuthority& authority() const { return ca_; }
  const std::vector<IssuedRecord>& issued() const { return issued_; }
  const std::vector<RevokedRecord>& revoked() const { return revoked_; }

  // Issues the back office's certificate into `out_dir` (created if missing) with the CA
  // certificate (as device-ca.crt) and the current revocation list. `overwrite`: replace files
  // already there (a renewal). Errors: kConflict (files exist), kInvalidArgument, kIo, kCrypto.
  Result<Written> issue_backoffice(const std::filesystem::path& out_dir,
                                   std::string_view server_name, int days, std::int64_t now,
                                   crypto::Drbg& drbg, bool overwrite = false);
  // Issues a device certificate for `device_id` into `out_dir` with the CA certificate (as
  // backoffice-ca.crt). Same errors.
  Result<Written> issue_device(const std::filesystem::path& out_dir, std::string_view device_id,
                               int days, std::int64_t now, crypto::Drbg& drbg,
                               bool overwrite = false);
  // Issues a technician's client certificate (role marker OU=faregate-technician) into `out_dir`
  // as technician.crt / technician.key with the CA certificate as operator-ca.crt: what
  // faregate-flash presents at a validator's maintenance port. Same errors.
  Result<Written> issue_technician(const std::filesystem::path& out_dir, std::string_view name,
                                   int days, std::int64_t now, crypto::Drbg& drbg,
                                   bool overwrite = false);
  // Issues a validator's maintenance-port server certificate (CN = device id, subjectAltName
  // faregate-maintenance) into `out_dir` as maintenance.crt / maintenance.key, next to the
  // device's files. Same errors.
  Result<Written> issue_maintenance(const std::filesystem::path& out_dir,
                                    std::string_view device_id, int days, std::int64_t now,
                                    crypto::Drbg& drbg, bool overwrite = false);
  // Revokes every unrevoked device (and maintenance-port) certificate issued to `device_id` (or only `serial_hex` when
  // given) and rewrites revoked.crl; if `install_to` is set, also writes the list there
  // atomically (the back office reloads it). Errors: kNotFound (nothing to revoke), kIo, kCrypto.
  Result<Written> revoke_device(std::string_view device_id, std::string_view serial_hex,
                                std::int64_t now, crypto::Drbg& drbg,
                                const std::filesystem::path& install_to = {});
  // The same for a technician's certificates (issue_technician). Install the list where the
  // validators' maintenance ports read it (DATA_DIR/tls/revoked.crl; read at start).
  Result<Written> revoke_technician(std::string_view name, std::string_view serial_hex,
                                    std::int64_t now, crypto::Drbg& drbg,
                                    const std::filesystem::path& install_to = {});
  // Rewrites revoked.crl (a fresh issue date; the same revocations), and installs it as above.
  Result<Written> refresh_revocation_list(std::int64_t now, crypto::Drbg& drbg,
                                          const std::filesystem::path& install_to = {});

 private:
  PkiDirectory(std::filesystem::path dir, CertificateAuthority ca,
               std::vector<IssuedRecord> issued, std::vector<RevokedRecord> revoked)
      : dir_(std::move(dir)),
        ca_(std::move(ca)),
        issued_(std::move(issued)),
        revoked_(std::move(revoked)) {}
  // Where one role's certificate goes and which public copies go with it.
  struct IssueTarget {
    std::filesystem::path out_dir;
    Role role;
    std::string_view role_name;  // as recorded in issued.tsv
    std::filesystem::path certificate;
    std::filesystem::path private_key;
    std::filesystem::path ca_copy;               // empty: no copy of the CA certificate
    std::filesystem::path revocation_list_copy;  // empty: no copy of revoked.crl
  };
  // The common steps of the issue_* calls (their contract).
  Result<Written> issue(const IssueTarget& target, std::string_view name, int days,
                        std::int64_t now, crypto::Drbg& drbg, bool overwrite);
  Result<std::string> revocation_list_pem(std::int64_t now, crypto::Drbg& drbg) const;
  Result<Written> revoke(std::initializer_list<std::string_view> roles, std::string_view name,
                         std::string_view serial_hex, std::int64_t now, crypto::Drbg& drbg,
                         const std::filesystem::path& install_to);
  Status append_issued(const IssuedRecord& record);

  std::filesystem::path dir_;
  CertificateAuthority ca_;
  std::vector<IssuedRecord> issued_;
  std::vector<RevokedRecord> revoked_;
};

// Writes `contents` to `path` through a temporary file and a rename, so that a reader sees the
// old file or the new one, never a mix. `mode` applies to the new file. `overwrite` false: fails
// with kConflict if `path` exists.
Status write_file_atomically(const std::filesystem::path& path, std::string_view contents,
                             unsigned mode, bool overwrite);

}  // namespace faregate::keys
