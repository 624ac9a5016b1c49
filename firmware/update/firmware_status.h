#pragma once
// The boot state and both slots of a data directory, read together: what the launcher plans
// from, what the installer checks against, and what `faregate-flash --status` shows.

#include <string>
#include <vector>

#include "common/error.h"
#include "firmware/update/boot_state.h"
#include "firmware/update/file_ops.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/signing_key.h"
#include "firmware/update/slot_check.h"

namespace faregate::update {

struct FirmwareStatus {
  BootState state;             // as stored, or rebuilt from the slots (see state_rebuilt)
  bool state_rebuilt = false;  // the stored state was missing or damaged while a slot held an image
  std::vector<std::string> notes;
  SlotChecks slots;
};

// Reads the boot state and verifies both slots with `trusted`. A missing or damaged state is
// rebuilt with rebuild_state (nothing is written). Errors only when the state cannot be read at
// all (kIo). Callers that go on to write must hold a FirmwareLock.
Result<FirmwareStatus> read_firmware_status(const FirmwareDir& dir, FileOps& ops,
                                            const PublicKey& trusted);

}  // namespace faregate::update
