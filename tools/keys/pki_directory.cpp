#include "tools/keys/pki_directory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "common/tls/mbedtls_handles.h"
#include "common/tls/tls_context.h"

namespace faregate::keys {

namespace {

namespace fs = std::filesystem;

constexpr unsigned kPublicMode = 0644;
constexpr unsigned kSecretMode = 0600;

std::vector<std::string> split_tabs(std::string_view line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    fields.emplace_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

bool parse_int64(std::string_view text, std::int64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool is_hex(std::string_view text) {
  if (text.empty() || text.size() % 2 != 0) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The registers are written by this tool only, but a hand edit must give a clear error, never a
// wrong CRL.
Result<std::vector<IssuedRecord>> read_issued(const fs::path& path) {
  auto text = tls::read_text_file(path);
  if (!text) return std::unexpected(text.error());
  std::vector<IssuedRecord> out;
  std::istringstream in(*text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line.front() == '#') continue;
    const auto f = split_tabs(line);
    IssuedRecord r;
    const bool known_role = f.size() == 5 && (f[1] == "device" || f[1] == "backoffice" ||
                                              f[1] == "technician" || f[1] == "maintenance");
    if (!known_role || !is_hex(f[0]) || !parse_int64(f[4], r.issued_at)) {
      return make_error(ErrorCode::kInvalidArgument,
                        path.string() + ":" + std::to_string(number) + ": not a register line");
    }
    r.serial_hex = f[0];
    r.role = f[1];
    r.name = f[2];
    r.not_after = f[3];
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<RevokedRecord>> read_revoked(const fs::path& path) {
  auto text = tls::read_text_file(path);
  if (!text) return std::unexpected(text.error());
  std::vector<RevokedRecord> out;
  std::istringstream in(*text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line.front() == '#') continue;
    const auto f = split_tabs(line);
    RevokedRecord r;
    if (f.size() != 3 || !is_hex(f[0]) || !parse_int64(f[1], r.revoked_at)) {
      return make_error(ErrorCode::kInvalidArgument,
                        path.string() + ":" + std::to_string(number) + ": not a register line");
    }
    r.serial_hex = f[0];
    r.name = f[2];
    out.push_back(std::move(r));
  }
  return out;
}

std::string issued_line(const IssuedRecord& r) {
  return r.serial_hex + "\t" + r.role + "\t" + r.name + "\t" + r.not_after + "\t" +
         std::to_string(r.issued_at) + "\n";
}

std::string revoked_line(const RevokedRecord& r) {
  return r.serial_hex + "\t" + std::to_string(r.revoked_at) + "\t" + r.name + "\n";
}

constexpr std::string_view kIssuedHeader =
    "# serial\trole\tname\tnot_after\tissued_at (UTC epoch s); written by faregate-keys\n";
constexpr std::string_view kRevokedHeader =
    "# serial\trevoked_at (UTC epoch s)\tname; written by faregate-keys\n";

Status make_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec)) {
    return make_error(ErrorCode::kIo, "cannot create directory " + dir.string());
  }
  return {};
}

Status check_absent(const std::vector<fs::path>& paths) {
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::exists(path, ec)) {
      return make_error(ErrorCode::kConflict,
                        path.string() + " already exists (use --force to replace it)");
    }
  }
  return {};
}

}  // namespace

Status write_file_atomically(const fs::path& path, std::string_view contents, unsigned mode,
                             bool overwrite) {
  std::error_code ec;
  if (!overwrite && fs::exists(path, ec)) {
    return make_error(ErrorCode::kConflict, path.string() + " already exists");
  }
  const fs::path temporary = path.string() + ".tmp";
  fs::remove(temporary, ec);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                        static_cast<mode_t>(mode));
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot create " + temporary.string());
  // The umask must not widen or narrow what we chose (a key must end up 0600, a CRL readable).
  bool ok = ::fchmod(fd, static_cast<mode_t>(mode)) == 0;
  std::size_t done = 0;
  while (ok && done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    fs::remove(temporary, ec);
    return make_error(ErrorCode::kIo, "cannot write " + temporary.string());
  }
  if (!overwrite) {
    // link() fails if the target appeared meanwhile: never replace what someone else wrote.
    if (::link(temporary.c_str(), path.c_str()) != 0) {
      fs::remove(temporary, ec);
      return make_error(ErrorCode::kConflict, path.string() + " already exists");
    }
    fs::remove(temporary, ec);
  } else if (::rename(temporary.c_str(), path.c_str()) != 0) {
    fs::remove(temporary, ec);
    return make_error(ErrorCode::kIo, "cannot replace " + path.string());
  }
  // Make the new directory entry durable too.
  const int dir_fd = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                            O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
  return {};
}

Result<PkiDirectory> PkiDirectory::init(const fs::path& dir, std::string_view common_name,
                                        std::string_view organization, int days, std::int64_t now,
                                        crypto::Drbg& drbg) {
  if (days < 1 || days > 36'500) {
    return make_error(ErrorCode::kInvalidArgument, "--days must be 1 to 36500");
  }
  if (auto s = check_absent({dir / kCaCertificateFile, dir / kCaKeyFile}); !s) {
    return make_error(ErrorCode::kConflict, "a CA already exists in " + dir.string());
  }
  if (auto s = make_dir(dir); !s) return std::unexpected(s.error());
  auto ca = CertificateAuthority::create(common_name, organization, validity_for_days(now, days),
                                         drbg);
  if (!ca) return std::unexpected(ca.error());
  auto key = ca->private_key_pem();
  if (!key) return std::unexpected(key.error());
  // The key first: if anything later fails, init refuses to run again rather than leave a
  // certificate whose key is lost.
  if (auto s = write_file_atomically(dir / kCaKeyFile, *key, kSecretMode, false); !s) {
    return std::unexpected(s.error());
  }
  std::fill(key->begin(), key->end(), '\0');
  if (auto s = write_file_atomically(dir / kCaCertificateFile, ca->certificate_pem(), kPublicMode,
                                     false);
      !s) {
    return std::unexpected(s.error());
  }
  for (const auto& [name, header] : {std::pair{kIssuedFile, kIssuedHeader},
                                     std::pair{kRevokedFile, kRevokedHeader}}) {
    if (auto s = write_file_atomically(dir / name, header, kPublicMode, true); !s) {
      return std::unexpected(s.error());
    }
  }
  PkiDirectory pki(dir, std::move(*ca), {}, {});
  auto crl = pki.refresh_revocation_list(now, drbg);
  if (!crl) return std::unexpected(crl.error());
  return pki;
}

Result<PkiDirectory> PkiDirectory::open(const fs::path& dir) {
  auto certificate = tls::read_text_file(dir / kCaCertificateFile);
  if (!certificate) {
    return with_context(certificate.error(),
                        "no CA in " + dir.string() + " (create one with faregate-keys init-ca)");
  }
  auto key = tls::read_text_file(dir / kCaKeyFile);
  if (!key) return std::unexpected(key.error());
  auto ca = CertificateAuthority::load(*certificate, *key);
  std::fill(key->begin(), key->end(), '\0');
  if (!ca) return with_context(ca.error(), dir.string());
  auto issued = read_issued(dir / kIssuedFile);
  if (!issued) return std::unexpected(issued.error());
  auto revoked = read_revoked(dir / kRevokedFile);
  if (!revoked) return std::unexpected(revoked.error());
  return PkiDirectory(dir, std::move(*ca), std::move(*issued), std::move(*revoked));
}

Status PkiDirectory::append_issued(const IssuedRecord& record) {
  // Appended (not rewritten): the register is the CA's memory of every serial it handed out.
  const fs::path path = dir_ / kIssuedFile;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot open " + path.string());
  const std::string line = issued_line(record);
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return make_error(ErrorCode::kIo, "cannot write " + path.string());
  issued_.push_back(record);
  return {};
}

Result<Written> PkiDirectory::issue(const IssueTarget& target, std::string_view name, int days,
                                    std::int64_t now, crypto::Drbg& drbg, bool overwrite) {
  if (days < 1 || days > 36'500) {
    return make_error(ErrorCode::kInvalidArgument, "--days must be 1 to 36500");
  }
  if (!overwrite) {
    if (auto s = check_absent({target.certificate, target.private_key}); !s) {
      return std::unexpected(s.error());
    }
  }
  auto issued = ca_.issue(target.role, name, validity_for_days(now, days), drbg);
  if (!issued) return std::unexpected(issued.error());
  std::string crl;
  if (!target.revocation_list_copy.empty()) {
    auto read = tls::read_text_file(dir_ / kCaRevocationListFile);
    if (!read) return std::unexpected(read.error());
    crl = std::move(*read);
  }
  if (auto s = make_dir(target.out_dir); !s) return std::unexpected(s.error());
  if (auto s = append_issued({issued->serial_hex, std::string(target.role_name), std::string(name),
                              issued->not_after, now});
      !s) {
    return std::unexpected(s.error());
  }
  // The key first, then what is public; the copies only where this role's daemon reads them.
  std::vector<std::pair<const fs::path*, std::pair<const std::string*, unsigned>>> outputs = {
      {&target.private_key, {&issued->private_key_pem, kSecretMode}},
      {&target.certificate, {&issued->certificate_pem, kPublicMode}},
  };
  if (!target.ca_copy.empty()) {
    outputs.push_back({&target.ca_copy, {&ca_.certificate_pem(), kPublicMode}});
  }
  if (!target.revocation_list_copy.empty()) {
    outputs.push_back({&target.revocation_list_copy, {&crl, kPublicMode}});
  }
  Written written{{}, std::string(name), issued->serial_hex, issued->not_after};
  for (const auto& [path, what] : outputs) {
    if (auto s = write_file_atomically(*path, *what.first, what.second, true); !s) {
      return std::unexpected(s.error());
    }
    written.files.push_back(*path);
  }
  std::fill(issued->private_key_pem.begin(), issued->private_key_pem.end(), '\0');
  return written;
}

Result<Written> PkiDirectory::issue_backoffice(const fs::path& out_dir,
                                               std::string_view server_name, int days,
                                               std::int64_t now, crypto::Drbg& drbg,
                                               bool overwrite) {
  const tls::ServerFiles files = tls::server_files_in(out_dir);
  return issue({out_dir, Role::kBackoffice, "backoffice", files.certificate, files.private_key,
                files.client_ca, files.revocation_list},
               server_name, days, now, drbg, overwrite);
}

Result<Written> PkiDirectory::issue_device(const fs::path& out_dir, std::string_view device_id,
                                           int days, std::int64_t now, crypto::Drbg& drbg,
                                           bool overwrite) {
  const tls::ClientFiles files = tls::client_files_in(out_dir);
  return issue({out_dir, Role::kDevice, "device", files.certificate, files.private_key, files.server_ca, {}},
               device_id, days, now, drbg, overwrite);
}

namespace {
constexpr const char* kTechnicianCertificateFile = "technician.crt";
constexpr const char* kTechnicianKeyFile = "technician.key";
constexpr const char* kOperatorCaFile = "operator-ca.crt";
}  // namespace

Result<Written> PkiDirectory::issue_technician(const fs::path& out_dir, std::string_view name,
                                               int days, std::int64_t now, crypto::Drbg& drbg,
                                               bool overwrite) {
  return issue({out_dir, Role::kTechnician, "technician", out_dir / kTechnicianCertificateFile,
                out_dir / kTechnicianKeyFile, out_dir / kOperatorCaFile, {}},
               name, days, now, drbg, overwrite);
}

Result<Written> PkiDirectory::issue_maintenance(const fs::path& out_dir,
                                                std::string_view device_id, int days,
                                                std::int64_t now, crypto::Drbg& drbg,
                                                bool overwrite) {
  return issue({out_dir, Role::kMaintenance, "maintenance",
                out_dir / std::string(tls::kMaintenanceCertificateFile),
                out_dir / std::string(tls::kMaintenanceKeyFile), {}, {}},
               device_id, days, now, drbg, overwrite);
}

Result<std::string> PkiDirectory::revocation_list_pem(std::int64_t now, crypto::Drbg& drbg) const {
  std::vector<Revocation> list;
  list.reserve(revoked_.size());
  for (const auto& r : revoked_) list.push_back({r.serial_hex, r.revoked_at});
  // mbedTLS refuses every certificate of a CA whose list has passed its next update: let the
  // list live as long as the CA itself, and number lists by issue time so that a newer one
  // always carries a higher cRLNumber.
  const std::int64_t ca_until = ca_.valid_until();
  const std::int64_t next_update = std::max(ca_until, now + 86'400);
  return ca_.revocation_list(list, static_cast<std::uint64_t>(now), now - 60, next_update, drbg);
}

Result<Written> PkiDirectory::refresh_revocation_list(std::int64_t now, crypto::Drbg& drbg,
                                                      const fs::path& install_to) {
  auto pem = revocation_list_pem(now, drbg);
  if (!pem) return std::unexpected(pem.error());
  Written written;
  if (auto s = write_file_atomically(dir_ / kCaRevocationListFile, *pem, kPublicMode, true); !s) {
    return std::unexpected(s.error());
  }
  written.files.push_back(dir_ / kCaRevocationListFile);
  if (!install_to.empty()) {
    if (auto s = write_file_atomically(install_to, *pem, kPublicMode, true); !s) {
      return std::unexpected(s.error());
    }
    written.files.push_back(install_to);
  }
  return written;
}

Result<Written> PkiDirectory::revoke_device(std::string_view device_id,
                                            std::string_view serial_hex, std::int64_t now,
                                            crypto::Drbg& drbg, const fs::path& install_to) {
  // A stolen validator loses its maintenance-port certificate with its device certificate.
  return revoke({"device", "maintenance"}, device_id, serial_hex, now, drbg, install_to);
}

Result<Written> PkiDirectory::revoke_technician(std::string_view name, std::string_view serial_hex,
                                                std::int64_t now, crypto::Drbg& drbg,
                                                const fs::path& install_to) {
  return revoke({"technician"}, name, serial_hex, now, drbg, install_to);
}

Result<Written> PkiDirectory::revoke(std::initializer_list<std::string_view> roles,
                                     std::string_view device_id, std::string_view serial_hex,
                                     std::int64_t now, crypto::Drbg& drbg,
                                     const fs::path& install_to) {
  std::vector<RevokedRecord> added;
  for (const auto& record : issued_) {
    if (std::find(roles.begin(), roles.end(), record.role) == roles.end() ||
        record.name != device_id) {
      continue;
    }
    if (!serial_hex.empty() && record.serial_hex != serial_hex) continue;
    const bool already = std::any_of(revoked_.begin(), revoked_.end(), [&](const auto& r) {
      return r.serial_hex == record.serial_hex;
    });
    if (!already) added.push_back({record.serial_hex, now, record.name});
  }
  if (added.empty()) {
    return make_error(ErrorCode::kNotFound,
                      "no unrevoked " + std::string(*roles.begin()) + " certificate for '" +
                          std::string(device_id) + "'" +
                          (serial_hex.empty() ? "" : " with serial " + std::string(serial_hex)) +
                          " in " + (dir_ / kIssuedFile).string());
  }
  std::vector<RevokedRecord> all = revoked_;
  all.insert(all.end(), added.begin(), added.end());
  std::string text(kRevokedHeader);
  for (const auto& r : all) text += revoked_line(r);
  // The register first: a CRL is always rebuilt from it, so a crash in between is repaired by
  // running `faregate-keys crl`.
  if (auto s = write_file_atomically(dir_ / kRevokedFile, text, kPublicMode, true); !s) {
    return std::unexpected(s.error());
  }
  revoked_ = std::move(all);
  auto written = refresh_revocation_list(now, drbg, install_to);
  if (!written) return std::unexpected(written.error());
  written->name = std::string(device_id);
  for (const auto& r : added) {
    written->serial_hex += (written->serial_hex.empty() ? "" : ",") + r.serial_hex;
  }
  return written;
}

}  // namespace faregate::keys
