#pragma once
// The disk side of one boot, shared by faregate-boot and the power-loss tests: decide and record
// the boot before the validator starts, load exactly the image decided on, and record its health
// report. Every write goes through FileOps and is atomic (firmware_dir.h).

#include <optional>

#include "common/bytes.h"
#include "common/error.h"
#include "firmware/update/boot_decision.h"
#include "firmware/update/file_ops.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/signing_key.h"

namespace faregate::update {

// Under the firmware lock: reads the state and slots, plans the boot (plan_boot), and if an image
// is to start, stores plan.next_state first so that the attempt counts even if it never returns.
// Errors only on I/O; "nothing to start" is a plan without a slot.
Result<BootPlan> begin_boot(const FirmwareDir& dir, FileOps& ops, const PublicKey& trusted,
                            const BootPolicy& policy);

// Reads the planned slot again and returns its image only if it still verifies and is the very
// image that was planned (a slot rewritten in between is refused, never started).
Result<Bytes> load_planned_image(const FirmwareDir& dir, FileOps& ops, const PublicKey& trusted,
                                 const BootPlan& plan);

// Returns true if the health marker of boot plan.next_state.boot_count is present.
bool health_reported(const FirmwareDir& dir, FileOps& ops, const BootPlan& plan);

// Under the firmware lock: applies after_healthy to the stored state and stores the result.
// Returns the state now stored.
Result<BootState> confirm_healthy(const FirmwareDir& dir, FileOps& ops, const BootPlan& plan);

}  // namespace faregate::update
