#pragma once
// What is in each slot, checked with the device's trusted key: the facts the boot decision, the
// installer and `faregate-flash --status` all start from.

#include <array>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/crypto.h"
#include "firmware/update/boot_state.h"
#include "firmware/update/file_ops.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/image_format.h"
#include "firmware/update/signing_key.h"

namespace faregate::update {

struct SlotCheck {
  bool present = false;
  std::optional<ImageHeader> header;                 // whenever the header parsed
  std::optional<crypto::Sha256Digest> image_sha256;  // only when the image verified
  std::string problem;                               // why it did not verify; empty if it did

  bool verified() const { return image_sha256.has_value(); }
};

using SlotChecks = std::array<SlotCheck, 2>;  // indexed by slot_index()

SlotCheck check_slot_image(ByteView image, const PublicKey& trusted);

// Reads and verifies one slot. An empty slot is !present; an unreadable one reports the error.
SlotCheck inspect_slot(const FirmwareDir& dir, FileOps& ops, Slot slot, const PublicKey& trusted);
SlotChecks inspect_slots(const FirmwareDir& dir, FileOps& ops, const PublicKey& trusted);

}  // namespace faregate::update
