#include "tools/sign/sign_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "firmware/update/file_ops.h"
#include "firmware/update/image_format.h"
#include "firmware/update/image_signer.h"
#include "firmware/update/image_verifier.h"
#include "firmware/update/signing_key.h"

namespace faregate::tools {

namespace {

using update::PosixFileOps;

// Writes a new file with `mode`; refuses to replace an existing one unless `force`.
Status write_output(const std::filesystem::path& file, ByteView data, mode_t mode, bool force) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
  const int fd = ::open(file.c_str(), flags, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      return make_error(ErrorCode::kConflict,
                        fmt::format("{} exists (use --force to replace it)", file.string()));
    }
    return make_error(ErrorCode::kIo,
                      fmt::format("cannot create {}: {}", file.string(), std::strerror(errno)));
  }
  if (force) (void)::fchmod(fd, mode);
  PosixFileOps ops;
  auto written = ops.append(fd, data);
  auto synced = written ? ops.sync(fd) : written;
  ::close(fd);
  if (!synced) return with_context(synced.error(), file.string());
  return {};
}

Result<Bytes> read_input(const std::filesystem::path& file, std::uint64_t max_bytes) {
  PosixFileOps ops;
  auto bytes = ops.read(file, max_bytes);
  if (!bytes) return std::unexpected(bytes.error());
  return bytes;
}

nlohmann::json header_json(const update::ImageHeader& h) {
  return {
      {"format_version", update::kImageFormatVersion}, {"firmware_version", h.firmware_version},
      {"security_counter", h.security_counter},        {"payload_bytes", h.payload_length},
      {"payload_sha256", to_hex(h.payload_sha256)},    {"signer_key_id", to_hex(h.signer_key_id)}};
}

int fail(std::ostream& err, const Error& e) {
  err << "faregate-sign: " << e.message << "\n";
  return kExitError;
}

}  // namespace

int run_keygen(const KeygenArgs& args, std::ostream& out, std::ostream& err) {
  if (args.out_key == args.out_pub) {
    return fail(err, {ErrorCode::kInvalidArgument, "--out-key and --out-pub must differ"});
  }
  auto rng = crypto::Drbg::from_system_entropy("faregate-sign keygen");
  if (!rng) return fail(err, rng.error());
  auto key = update::SigningKey::generate(*rng);
  if (!key) return fail(err, key.error());
  auto pem = key->private_pem();
  if (!pem) return fail(err, pem.error());
  if (auto ok = write_output(args.out_key, as_bytes(*pem), 0600, args.force); !ok) {
    return fail(err, ok.error());
  }
  if (auto ok = write_output(args.out_pub, as_bytes(key->public_key().pem()), 0644, args.force);
      !ok) {
    return fail(err, ok.error());
  }
  out << "private key: " << args.out_key.string() << " (keep it offline; mode 0600)\n"
      << "public key:  " << args.out_pub.string() << "\n"
      << "key id:      " << to_hex(key->public_key().key_id()) << "\n";
  return kExitOk;
}

int run_sign(const SignArgs& args, std::ostream& out, std::ostream& err) {
  if (auto ok = update::check_firmware_version(args.version); !ok) return fail(err, ok.error());
  auto key = update::SigningKey::from_file(args.key);
  if (!key) return fail(err, key.error());
  auto payload = read_input(args.in, update::kMaxPayloadBytes);
  if (!payload) return fail(err, payload.error());
  auto rng = crypto::Drbg::from_system_entropy("faregate-sign sign");
  if (!rng) return fail(err, rng.error());
  auto image = update::build_signed_image({args.version, args.counter}, *payload, *key, *rng);
  if (!image) return fail(err, image.error());
  if (auto ok = write_output(args.out, *image, 0644, args.force); !ok) return fail(err, ok.error());
  out << fmt::format("signed {} as version {}, security counter {}: {} ({} bytes), key {}\n",
                     args.in.string(), args.version, args.counter, args.out.string(), image->size(),
                     update::short_key_id(key->public_key().key_id()));
  return kExitOk;
}

int run_verify(const VerifyArgs& args, std::ostream& out, std::ostream& err) {
  auto key = update::PublicKey::from_file(args.pub);
  if (!key) return fail(err, key.error());
  auto image = read_input(args.image, update::kMaxImageBytes);
  if (!image) return fail(err, image.error());
  auto verified = update::verify_image(*image, *key);
  Status counter_ok;
  if (verified && args.min_counter) {
    counter_ok = update::check_security_counter(verified->header, *args.min_counter);
  }
  const bool valid = verified && counter_ok;
  const std::string reason = !verified     ? verified.error().message
                             : !counter_ok ? counter_ok.error().message
                                           : "";
  if (args.json) {
    nlohmann::json j = {{"image", args.image.string()}, {"valid", valid}};
    if (verified) j["header"] = header_json(verified->header);
    if (!valid) j["reason"] = reason;
    out << j.dump() << "\n";
  } else if (valid) {
    out << fmt::format("OK: {} is version {}, security counter {}, signed by key {} and intact\n",
                       args.image.string(), verified->header.firmware_version,
                       verified->header.security_counter, update::short_key_id(key->key_id()));
  }
  if (!valid) {
    err << "REFUSED: " << args.image.string() << ": " << reason << "\n";
    return kExitRefused;
  }
  return kExitOk;
}

int run_show(const ShowArgs& args, std::ostream& out, std::ostream& err) {
  auto image = read_input(args.image, update::kMaxImageBytes);
  if (!image) return fail(err, image.error());
  auto parts = update::parse_image(*image);
  if (!parts) {
    err << "REFUSED: " << args.image.string() << ": " << parts.error().message << "\n";
    return kExitRefused;
  }
  const auto& h = parts->header;
  if (args.json) {
    nlohmann::json j = header_json(h);
    j["image"] = args.image.string();
    j["image_bytes"] = image->size();
    j["signature_bytes"] = parts->signature.size();
    j["signature_checked"] = false;
    out << j.dump() << "\n";
    return kExitOk;
  }
  out << fmt::format(
      "image:             {} ({} bytes)\n"
      "format:            Faregate firmware image, format {}\n"
      "firmware version:  {}\n"
      "security counter:  {}\n"
      "payload:           {} bytes, SHA-256 {}\n"
      "signer key id:     {}\n"
      "signature:         {} bytes, DER ECDSA P-256 (not checked here: use faregate-sign verify)\n",
      args.image.string(), image->size(), update::kImageFormatVersion, h.firmware_version,
      h.security_counter, h.payload_length, to_hex(h.payload_sha256), to_hex(h.signer_key_id),
      parts->signature.size());
  return kExitOk;
}

int run_export(const ExportArgs& args, std::ostream& out, std::ostream& err) {
  auto image = read_input(args.image, update::kMaxImageBytes);
  if (!image) return fail(err, image.error());
  auto parts = update::parse_image(*image);
  if (!parts) {
    err << "REFUSED: " << args.image.string() << ": " << parts.error().message << "\n";
    return kExitRefused;
  }
  if (auto ok = write_output(args.header_and_payload, parts->signed_region, 0644, args.force);
      !ok) {
    return fail(err, ok.error());
  }
  if (auto ok = write_output(args.signature, parts->signature, 0644, args.force); !ok) {
    return fail(err, ok.error());
  }
  out << fmt::format(
      "header and payload: {} ({} bytes)\nsignature:          {} ({} bytes)\n"
      "check with: openssl dgst -sha256 -verify PUBLIC_KEY.pem -signature {} {}\n",
      args.header_and_payload.string(), parts->signed_region.size(), args.signature.string(),
      parts->signature.size(), args.signature.string(), args.header_and_payload.string());
  return kExitOk;
}

}  // namespace faregate::tools
