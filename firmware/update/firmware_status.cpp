#include "firmware/update/firmware_status.h"

#include "firmware/update/boot_decision.h"

namespace faregate::update {

Result<FirmwareStatus> read_firmware_status(const FirmwareDir& dir, FileOps& ops,
                                            const PublicKey& trusted) {
  FirmwareStatus status;
  status.slots = inspect_slots(dir, ops, trusted);
  auto stored = dir.load_state(ops);
  if (!stored && stored.error().code != ErrorCode::kCorrupt) return std::unexpected(stored.error());
  if (stored && stored->has_value()) {
    status.state = **stored;
    return status;
  }
  if (!stored) status.notes.push_back(stored.error().message);
  const bool any_image = status.slots[0].present || status.slots[1].present;
  if (!stored || any_image) {
    status.state = rebuild_state(status.slots, status.notes);
    status.state_rebuilt = true;
  }
  return status;
}

}  // namespace faregate::update
