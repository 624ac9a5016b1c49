#include "firmware/sync/firmware_download.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "firmware/update/file_ops.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/firmware_status.h"
#include "firmware/update/image_format.h"

namespace faregate::sync {

namespace v1 = faregate::v1;

namespace {

constexpr std::string_view kFirstLine = "faregate-download 1";

std::unexpected<Error> corrupt(std::string_view what) {
  return make_error(ErrorCode::kCorrupt, fmt::format("download progress damaged: {}", what));
}

bool parse_number(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_digest(std::string_view text, crypto::Sha256Digest& out) {
  if (text.size() != 2 * crypto::kSha256Bytes) return false;
  auto bytes = from_hex(text);
  if (!bytes || bytes->size() != crypto::kSha256Bytes) return false;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return true;
}

std::optional<crypto::Sha256Digest> digest_of(const std::string& bytes) {
  if (bytes.size() != crypto::kSha256Bytes) return std::nullopt;
  crypto::Sha256Digest d{};
  std::memcpy(d.data(), bytes.data(), d.size());
  return d;
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::string encode_download_progress(const DownloadProgress& p) {
  const std::string body = fmt::format(
      "{}\nimage_sha256 {}\nversion {}\nsecurity_counter {}\nimage_size {}\noffset {}\n",
      kFirstLine, to_hex(p.image_sha256), p.version, p.security_counter, p.image_size, p.offset);
  return body + "check " + to_hex(crypto::sha256(as_bytes(body))) + "\n";
}

Result<DownloadProgress> decode_download_progress(std::string_view text) {
  if (text.size() > kMaxProgressBytes) return corrupt("file too large");
  if (!text.starts_with(kFirstLine) || text.size() <= kFirstLine.size() ||
      text[kFirstLine.size()] != '\n') {
    return corrupt("not a download progress file (first line)");
  }
  // The check line covers every byte before it: a torn or edited file is caught here.
  const auto check_at = text.rfind("check ");
  if (check_at == std::string_view::npos || check_at == 0 || text[check_at - 1] != '\n') {
    return corrupt("check line missing");
  }
  const std::string_view body = text.substr(0, check_at);
  if (text.substr(check_at) != "check " + to_hex(crypto::sha256(as_bytes(body))) + "\n") {
    return corrupt("check line does not match the contents");
  }
  std::string_view rest = body.substr(kFirstLine.size() + 1);
  static constexpr std::array<std::string_view, 5> kKeys = {
      "image_sha256", "version", "security_counter", "image_size", "offset"};
  std::array<std::string_view, kKeys.size()> values{};
  for (std::size_t i = 0; i < kKeys.size(); ++i) {
    const auto nl = rest.find('\n');
    if (nl == std::string_view::npos) return corrupt("wrong number of lines");
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    if (!line.starts_with(kKeys[i]) || line.size() <= kKeys[i].size() ||
        line[kKeys[i].size()] != ' ') {
      return corrupt(fmt::format("expected key {}", kKeys[i]));
    }
    values[i] = line.substr(kKeys[i].size() + 1);
  }
  if (!rest.empty()) return corrupt("wrong number of lines");
  DownloadProgress p;
  if (!parse_digest(values[0], p.image_sha256)) return corrupt("image_sha256");
  if (!update::check_firmware_version(values[1])) return corrupt("version");
  p.version = std::string(values[1]);
  if (!parse_number(values[2], p.security_counter)) return corrupt("security_counter");
  if (!parse_number(values[3], p.image_size) || p.image_size > update::kMaxImageBytes ||
      p.image_size < update::kImageHeaderBytes + update::kMinSignatureBytes) {
    return corrupt("image_size");
  }
  if (!parse_number(values[4], p.offset) || p.offset > p.image_size) return corrupt("offset");
  return p;
}

Status check_offer(const v1::FirmwareOffer& offer) {
  if (auto ok = update::check_firmware_version(offer.version()); !ok) {
    return make_error(ErrorCode::kProtocol, "firmware offer with a bad version: " +
                                                ok.error().message);
  }
  if (offer.image_size() < update::kImageHeaderBytes + update::kMinSignatureBytes ||
      offer.image_size() > update::kMaxImageBytes) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("firmware offer of {} bytes: not a possible image size",
                                  offer.image_size()));
  }
  if (offer.image_sha256().size() != crypto::kSha256Bytes) {
    return make_error(ErrorCode::kProtocol, "firmware offer without a 32-byte SHA-256");
  }
  return {};
}

Status check_chunk(const v1::FirmwareChunkRequest& request, const v1::FirmwareChunk& chunk,
                   std::uint64_t image_size) {
  if (chunk.image_sha256() != request.image_sha256()) {
    return make_error(ErrorCode::kProtocol, "bad chunk: it is of another image");
  }
  if (chunk.offset() != request.offset()) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("bad chunk: offset {} where {} was asked for", chunk.offset(),
                                  request.offset()));
  }
  if (request.offset() >= image_size) {
    return make_error(ErrorCode::kProtocol, "bad chunk: asked beyond the image");
  }
  const std::uint64_t expected =
      std::min<std::uint64_t>(request.length(), image_size - request.offset());
  if (chunk.data().size() != expected) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("bad chunk: {} bytes at offset {} where {} were asked for",
                                  chunk.data().size(), chunk.offset(), expected));
  }
  return {};
}

std::string_view to_string(OfferDecision decision) {
  switch (decision) {
    case OfferDecision::kDownload: return "download";
    case OfferDecision::kAlreadyPending: return "already installed, waiting for its trial boot";
    case OfferDecision::kAlreadyRunning: return "already running";
    case OfferDecision::kPreviouslyRefused: return "refused before";
  }
  return "?";
}

FirmwareDownload::FirmwareDownload(std::filesystem::path data_dir,
                                   const update::PublicKey& trusted, std::uint32_t chunk_bytes)
    : data_dir_(std::move(data_dir)),
      dir_(data_dir_ / "firmware" / "download"),
      trusted_(trusted),
      chunk_bytes_(std::clamp<std::uint32_t>(chunk_bytes, 1, kMaxFirmwareChunkBytes)) {}

std::filesystem::path FirmwareDownload::part_file() const { return dir_ / "image.part"; }
std::filesystem::path FirmwareDownload::progress_file() const { return dir_ / "progress"; }
std::filesystem::path FirmwareDownload::refused_file() const { return dir_ / "refused"; }

Result<std::optional<DownloadProgress>> FirmwareDownload::stored_progress() const {
  update::PosixFileOps ops;
  auto text = ops.read(progress_file(), kMaxProgressBytes);
  if (!text) {
    if (text.error().code == ErrorCode::kNotFound) return std::optional<DownloadProgress>();
    return std::unexpected(text.error());
  }
  auto decoded = decode_download_progress(faregate::to_string(*text));
  if (!decoded) return std::unexpected(decoded.error());
  return std::optional<DownloadProgress>(std::move(*decoded));
}

Status FirmwareDownload::save_progress() {
  update::PosixFileOps ops;
  return update::atomic_write_file(ops, progress_file(),
                                   as_bytes(encode_download_progress(*progress_)));
}

Status FirmwareDownload::discard() {
  progress_.reset();
  update::PosixFileOps ops;
  // The record first: without it a leftover part file is never trusted.
  if (auto s = ops.remove(progress_file()); !s) return s;
  if (auto s = ops.remove(part_file()); !s) return s;
  return ops.sync_dir(dir_);
}

Status FirmwareDownload::remember_refused(const crypto::Sha256Digest& sha) {
  update::PosixFileOps ops;
  return update::atomic_write_file(ops, refused_file(), as_bytes(to_hex(sha) + "\n"));
}

Result<OfferDecision> FirmwareDownload::begin(const v1::FirmwareOffer& offer) {
  if (auto ok = check_offer(offer); !ok) return std::unexpected(ok.error());
  const crypto::Sha256Digest sha = *digest_of(offer.image_sha256());
  update::PosixFileOps ops;
  if (auto s = ops.create_dir(data_dir_ / "firmware"); !s) return std::unexpected(s.error());
  if (auto s = ops.create_dir(dir_); !s) return std::unexpected(s.error());

  if (auto refused = ops.read(refused_file(), 256); refused) {
    if (faregate::to_string(*refused) == to_hex(sha) + "\n") return OfferDecision::kPreviouslyRefused;
  }
  // What the slots already hold: nothing to fetch for an image that is there.
  const update::FirmwareDir fw(data_dir_);
  auto status = update::read_firmware_status(fw, ops, trusted_);
  if (!status) return std::unexpected(status.error());
  const update::BootState& state = status->state;
  if (state.pending_image == sha) return OfferDecision::kAlreadyPending;
  if (state.active && state.confirmed_image[update::slot_index(*state.active)] == sha) {
    return OfferDecision::kAlreadyRunning;
  }
  for (const update::Slot slot : {update::Slot::kA, update::Slot::kB}) {
    // The image sits in a slot that is neither active nor pending and never passed its health
    // check there: it was installed and then rolled back after its trial boots failed. Installing it again would only fail again.
    if (status->slots[update::slot_index(slot)].image_sha256 == sha && state.active != slot &&
        state.confirmed_image[update::slot_index(slot)] != sha) {
      return OfferDecision::kPreviouslyRefused;
    }
  }

  DownloadProgress wanted;
  wanted.image_sha256 = sha;
  wanted.version = offer.version();
  wanted.security_counter = offer.security_counter();
  wanted.image_size = offer.image_size();
  auto stored = stored_progress();
  if (stored && *stored && (*stored)->image_sha256 == sha && (*stored)->image_size == wanted.image_size) {
    wanted.offset = (*stored)->offset;
  } else if (auto s = discard(); !s) {
    // A damaged record, or another image's download: start afresh.
    return std::unexpected(s.error());
  }
  // Bytes past the recorded offset were never confirmed durable: cut them off.
  const int fd = ::open(part_file().c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot open " + part_file().string() + ": " + errno_text());
  struct stat info {};
  const bool sized = ::fstat(fd, &info) == 0;
  if (!sized || static_cast<std::uint64_t>(info.st_size) < wanted.offset) {
    // The record says more than the part file holds (it cannot, unless the file was damaged).
    wanted.offset = 0;
  }
  const bool cut = ::ftruncate(fd, static_cast<off_t>(wanted.offset)) == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (!cut) return make_error(ErrorCode::kIo, "cannot truncate " + part_file().string());
  if (auto s = ops.sync_dir(dir_); !s) return std::unexpected(s.error());
  progress_ = wanted;
  if (auto s = save_progress(); !s) return std::unexpected(s.error());
  return OfferDecision::kDownload;
}

std::optional<v1::FirmwareChunkRequest> FirmwareDownload::next_request() const {
  if (!progress_ || progress_->offset >= progress_->image_size) return std::nullopt;
  v1::FirmwareChunkRequest request;
  request.set_image_sha256(std::string(progress_->image_sha256.begin(), progress_->image_sha256.end()));
  request.set_offset(progress_->offset);
  request.set_length(static_cast<std::uint32_t>(
      std::min<std::uint64_t>(chunk_bytes_, progress_->image_size - progress_->offset)));
  return request;
}

Status FirmwareDownload::accept(const v1::FirmwareChunk& chunk) {
  auto request = next_request();
  if (!request) return make_error(ErrorCode::kProtocol, "bad chunk: no chunk was asked for");
  if (auto ok = check_chunk(*request, chunk, progress_->image_size); !ok) {
    if (auto s = discard(); !s) return s;
    return ok;
  }
  const int fd = ::open(part_file().c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot open " + part_file().string() + ": " + errno_text());
  const auto& data = chunk.data();
  std::size_t done = 0;
  bool ok = true;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                               static_cast<off_t>(progress_->offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  // Durable data first, then the offset that vouches for it.
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return make_error(ErrorCode::kIo, "cannot write " + part_file().string() + ": " + errno_text());
  progress_->offset += data.size();
  return save_progress();
}

Result<update::SlotState> FirmwareDownload::finish() {
  if (!progress_ || progress_->offset != progress_->image_size) {
    return make_error(ErrorCode::kInvalidArgument, "the image is not complete");
  }
  const DownloadProgress done = *progress_;
  update::PosixFileOps ops;
  auto image = ops.read(part_file(), update::kMaxImageBytes);
  if (auto s = discard(); !s) return std::unexpected(s.error());
  if (!image) return std::unexpected(image.error());
  if (image->size() != done.image_size) {
    return make_error(ErrorCode::kIo, fmt::format("the downloaded file has {} bytes, not {}",
                                                  image->size(), done.image_size));
  }
  if (crypto::sha256(*image) != done.image_sha256) {
    if (auto s = remember_refused(done.image_sha256); !s) return std::unexpected(s.error());
    return make_error(ErrorCode::kCorrupt,
                      "SHA-256 of the downloaded image does not match the offer");
  }
  auto installed = update::install_image(data_dir_, *image, trusted_);
  if (!installed && installed.error().code != ErrorCode::kIo) {
    // Refused for what the image is: do not fetch it again.
    if (auto s = remember_refused(done.image_sha256); !s) return std::unexpected(s.error());
  }
  return installed;
}

}  // namespace faregate::sync
