#pragma once
// Installs a signed image into the inactive slot of a validator's data directory. Used offline
// by faregate-flash and, over the air, by the validator itself. The running image is never
// touched: whatever happens (refusal, I/O error, power cut) the device boots what it booted
// before, or the new image in trial mode once the install is complete.
//
// Steps: verify in memory (signature, key, payload hash) and against the device's security
// counter; write the slot file atomically; read it back and verify it again; then record it as
// pending in the boot state (atomically). A device without any image takes the first one as its
// active image at once, since there is nothing to roll back to.

#include <cstdint>
#include <filesystem>

#include "common/bytes.h"
#include "common/crypto.h"
#include "common/error.h"
#include "firmware/update/boot_state.h"
#include "firmware/update/file_ops.h"
#include "firmware/update/image_format.h"
#include "firmware/update/signing_key.h"

namespace faregate::update {

enum class SlotRole { kActive, kPending };

struct SlotState {
  Slot slot = Slot::kA;
  SlotRole role = SlotRole::kPending;
  ImageHeader header;
  crypto::Sha256Digest image_sha256{};
  bool already_installed = false;  // the image was already there; nothing was written
};

struct InstallOptions {
  std::size_t chunk_bytes = 64 * 1024;  // write size; progress is reported after each chunk
  WriteProgress progress;               // bytes of the slot file written so far, total
};

// Requires: `data_dir` exists. Errors: the verification error (kCorrupt, kCrypto), kConflict for
// a security counter below the device's, kIo. On any error the boot state is unchanged.
Result<SlotState> install_image(const std::filesystem::path& data_dir, ByteView image,
                                const PublicKey& trusted, FileOps& ops,
                                const InstallOptions& options = {});

// Same, reading the image from a file (at most kMaxImageBytes).
Result<SlotState> install_image_file(const std::filesystem::path& data_dir,
                                     const std::filesystem::path& image_file,
                                     const PublicKey& trusted, FileOps& ops,
                                     const InstallOptions& options = {});

// Same as install_image, on the real file system.
Result<SlotState> install_image(const std::filesystem::path& data_dir, ByteView image,
                                const PublicKey& trusted, const InstallOptions& options = {});

}  // namespace faregate::update
