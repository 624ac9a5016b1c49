#pragma once
// sync::FirmwareDownload: the validator's side of firmware over the air (docs/sync_protocol.md,
// "Firmware over the air"). The back office offers an image on a BatchAck (FirmwareOffer); the
// sync agent fetches it chunk by chunk through this class, which
//   - writes each chunk to <data_dir>/firmware/download/image.part, fsyncs it, and only then
//     records the new offset in <data_dir>/firmware/download/progress (replaced atomically), so
//     that after a dropped connection, a crash or a power cut the download resumes where the
//     disk says it got to, never past what is durably there;
//   - checks every chunk against its request (image, offset, exact length) before writing it;
//   - once the image is whole, checks its size and SHA-256 against the offer, then verifies and
//     installs it with update::install_image (signature with the trusted key, security counter
//     not below the device's, written to the inactive slot, read back, recorded as pending).
// A bad chunk, a wrong hash, a bad signature or a lower counter each refuse the image with their
// own message; the partial download is discarded and the running image is never touched. An
// image refused for what it is (hash, signature, counter) is remembered, so that it is not
// fetched again session after session; a new offer (another image) starts afresh.
//
// Not thread-safe: used from the sync thread only.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"
#include "faregate/v1/sync.pb.h"
#include "firmware/update/installer.h"
#include "firmware/update/signing_key.h"

namespace faregate::sync {

// The largest chunk the back office serves (sync.proto); requests stay at or below it.
inline constexpr std::uint32_t kMaxFirmwareChunkBytes = 1024 * 1024;

// What <data_dir>/firmware/download/progress records (format: docs/firmware_image.md,
// "Over-the-air download").
struct DownloadProgress {
  crypto::Sha256Digest image_sha256{};
  std::string version;
  std::uint64_t security_counter = 0;
  std::uint64_t image_size = 0;
  std::uint64_t offset = 0;  // bytes of image.part that are durable and checked

  friend bool operator==(const DownloadProgress&, const DownloadProgress&) = default;
};

inline constexpr std::size_t kMaxProgressBytes = 1024;

std::string encode_download_progress(const DownloadProgress& progress);
// Strict parse of untrusted file contents: exact keys in order, a matching check line, offset
// not beyond the size. Errors are kCorrupt.
Result<DownloadProgress> decode_download_progress(std::string_view text);

// Checks an offer as received before anything is fetched: a version the image format allows, a
// size within the image limits, a 32-byte SHA-256. Errors: kProtocol.
Status check_offer(const faregate::v1::FirmwareOffer& offer);

// Checks that `chunk` answers `request` for an image of `image_size` bytes: same image, same
// offset, exactly min(request.length, image_size - offset) bytes. Errors: kProtocol, saying what
// is wrong.
Status check_chunk(const faregate::v1::FirmwareChunkRequest& request,
                   const faregate::v1::FirmwareChunk& chunk, std::uint64_t image_size);

// What begin() decided about an offer.
enum class OfferDecision {
  kDownload,          // fetch it: next_request() says what to ask for
  kAlreadyPending,    // installed and waiting for its trial boot: just restart
  kAlreadyRunning,    // this very image runs (or is the confirmed active image)
  kPreviouslyRefused, // refused before (hash, signature, counter), or rolled back after its trial
};
std::string_view to_string(OfferDecision decision);

class FirmwareDownload {
 public:
  // `trusted`: the key compiled into the boot launcher (faregate_boot_key); must outlive this.
  // `chunk_bytes`: the size of each request, 1..kMaxFirmwareChunkBytes.
  FirmwareDownload(std::filesystem::path data_dir, const update::PublicKey& trusted,
                   std::uint32_t chunk_bytes = 64 * 1024);

  // Takes an offer: checks it, and either resumes the partial download of the same image, or
  // discards a partial download of another image and starts afresh. Errors: kProtocol (a
  // malformed offer), kIo.
  Result<OfferDecision> begin(const faregate::v1::FirmwareOffer& offer);

  // The request for the next chunk, or nullopt when the image is whole (or nothing is under way).
  std::optional<faregate::v1::FirmwareChunkRequest> next_request() const;

  // Checks and stores one chunk answering next_request(), durably, then records the new offset.
  // Errors: kProtocol for a bad chunk (the partial download is discarded), kIo.
  Status accept(const faregate::v1::FirmwareChunk& chunk);

  // Once the image is whole: size and SHA-256 against the offer, then update::install_image.
  // Errors: kCorrupt ("SHA-256 ... does not match the offer", or a damaged image), kCrypto (a bad
  // signature or another key), kConflict (a lower security counter), kIo. The partial download
  // is discarded whatever the outcome; refusals are remembered (see above).
  Result<update::SlotState> finish();

  // The download under way (offset included), if any.
  const std::optional<DownloadProgress>& progress() const { return progress_; }
  // Reads the durable progress record, for tests and status: nullopt when none is stored.
  Result<std::optional<DownloadProgress>> stored_progress() const;

  std::filesystem::path part_file() const;
  std::filesystem::path progress_file() const;
  std::filesystem::path refused_file() const;

 private:
  Status discard();
  Status remember_refused(const crypto::Sha256Digest& sha);
  Status save_progress();

  std::filesystem::path data_dir_;
  std::filesystem::path dir_;
  const update::PublicKey& trusted_;
  std::uint32_t chunk_bytes_;
  std::optional<DownloadProgress> progress_;
};

}  // namespace faregate::sync
