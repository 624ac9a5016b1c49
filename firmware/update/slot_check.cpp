#include "firmware/update/slot_check.h"

#include "firmware/update/image_verifier.h"

namespace faregate::update {

SlotCheck check_slot_image(ByteView image, const PublicKey& trusted) {
  SlotCheck check;
  check.present = true;
  if (auto header = parse_header(image)) check.header = *header;
  auto verified = verify_image(image, trusted);
  if (verified) {
    check.header = verified->header;
    check.image_sha256 = verified->image_sha256;
  } else {
    check.problem = verified.error().message;
  }
  return check;
}

SlotCheck inspect_slot(const FirmwareDir& dir, FileOps& ops, Slot slot, const PublicKey& trusted) {
  auto bytes = dir.read_slot(ops, slot);
  if (!bytes) {
    SlotCheck check;
    check.present = bytes.error().code != ErrorCode::kNotFound;
    check.problem = check.present ? bytes.error().message : "empty";
    return check;
  }
  return check_slot_image(*bytes, trusted);
}

SlotChecks inspect_slots(const FirmwareDir& dir, FileOps& ops, const PublicKey& trusted) {
  return {inspect_slot(dir, ops, Slot::kA, trusted), inspect_slot(dir, ops, Slot::kB, trusted)};
}

}  // namespace faregate::update
