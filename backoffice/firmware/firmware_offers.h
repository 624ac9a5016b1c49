#pragma once
// firmware::FirmwareOffers: the signed images the operator offers to validators over the air, one
// per device group (docs/sync_protocol.md, "Firmware over the air"). Kept in
// DATA_DIR/firmware/offers.db (SQLite, WAL, synchronous=FULL) with each offered image copied to
// DATA_DIR/firmware/images/<sha256>.fgi (written to a temporary file, fsynced, renamed).
//
// The back office does not hold the validators' trusted key and does not judge signatures: a
// validator verifies every image with the key compiled into it and refuses what does not verify.
// What the back office checks when an offer is made is that the file is a whole, undamaged image
// (docs/firmware_image.md: magic, format, header check, version field, sizes, payload SHA-256),
// so that an operator who picked the wrong file is told at once instead of by every validator.
//
// Thread safety: every method may be called from any thread (one connection, one mutex). Safe to
// use from faregate-backoffice's operator commands while the daemon runs.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"
#include "faregate/v1/sync.pb.h"

struct sqlite3;

namespace faregate::firmware {

// Device groups are short operator names: 1..64 characters of [A-Za-z0-9._-].
inline constexpr std::size_t kMaxDeviceGroupChars = 64;
// The largest chunk one FirmwareChunkRequest may ask for (sync.proto).
inline constexpr std::uint32_t kMaxChunkBytes = 1024 * 1024;
// Image size cap, as in the image format: 160-byte header + 256 MiB payload + 72-byte signature.
inline constexpr std::uint64_t kMaxOfferedImageBytes = 160 + 256ull * 1024 * 1024 + 72;

Status check_device_group(std::string_view group);

// What the fixed header of an image says, after the structural checks described above.
struct ImageSummary {
  std::string version;
  std::uint64_t security_counter = 0;
  std::uint64_t image_size = 0;
  crypto::Sha256Digest image_sha256{};
};

// Structural checks of a whole image (not its signature). Errors: kCorrupt with what is wrong.
Result<ImageSummary> summarize_image(ByteView image);

struct Offer {
  std::string device_group;
  ImageSummary image;
  std::filesystem::path image_file;
  std::int64_t offered_utc_ms = 0;

  faregate::v1::FirmwareOffer to_proto() const;
};

class FirmwareOffers {
 public:
  // Opens or creates DATA_DIR/firmware/offers.db and the images folder. Errors: kCorrupt (not an
  // offer store, newer schema), kIo.
  static Result<std::unique_ptr<FirmwareOffers>> open(const std::filesystem::path& data_dir);
  ~FirmwareOffers();
  FirmwareOffers(const FirmwareOffers&) = delete;
  FirmwareOffers& operator=(const FirmwareOffers&) = delete;

  // Copies `image_file` into the store and makes it the offer of `device_group`, replacing the
  // group's previous offer. Errors: kInvalidArgument (bad group), kNotFound, kCorrupt (not a
  // whole image), kIo.
  Result<Offer> offer(const std::filesystem::path& image_file, const std::string& device_group,
                      std::int64_t now_utc_ms);
  // Removes the group's offer. Returns false if it had none.
  Result<bool> withdraw(const std::string& device_group);

  Result<std::optional<Offer>> offer_for(const std::string& device_group);
  Result<std::vector<Offer>> list();

  // Bytes [offset, offset + length) of the image currently offered to `device_group` whose
  // SHA-256 is `image_sha256`, fewer at the end of the image. Errors: kNotFound (no such offer
  // for that group, e.g. withdrawn or replaced), kInvalidArgument (offset beyond the image,
  // length 0 or over kMaxChunkBytes), kCorrupt (the stored file is shorter than recorded), kIo.
  Result<Bytes> read_chunk(const std::string& device_group, ByteView image_sha256,
                           std::uint64_t offset, std::uint32_t length);

 private:
  FirmwareOffers(sqlite3* db, std::filesystem::path root);
  Result<std::optional<Offer>> offer_locked(const std::string& device_group);
  void prune_images_locked();

  sqlite3* db_;
  const std::filesystem::path root_;
  std::mutex mutex_;
};

}  // namespace faregate::firmware
