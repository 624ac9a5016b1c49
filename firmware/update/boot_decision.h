#pragma once
// The launcher's decision, as a pure function of the stored boot state and what the slots hold:
// which image to start, in which mode, and the state to store *before* starting it (so that a
// boot that never comes back still counts). No I/O here; boot/launcher.h does the I/O.
//
// Rules (docs/firmware_image.md, "Boot decision"):
//  - Only images that verify with the trusted key and whose security counter is at least the
//    device's highest confirmed counter ever start.
//  - A pending image starts in trial mode, at most max_trial_boots times; if none of those boots
//    reports healthy it is dropped and the active slot runs again (rollback).
//  - Outside a trial only confirmed images start (images that once reported healthy in that slot).
//  - If the active slot fails max_failed_boots boots in a row (crash loop, or a damaged image) and
//    the other slot holds a confirmed image, the other slot becomes active.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "firmware/update/boot_state.h"
#include "firmware/update/slot_check.h"

namespace faregate::update {

struct BootPolicy {
  std::uint32_t max_trial_boots = 3;
  std::uint32_t max_failed_boots = 3;
};

enum class BootMode { kConfirmed, kTrial };

struct BootPlan {
  std::optional<Slot> slot;  // empty: nothing may start
  BootMode mode = BootMode::kConfirmed;
  crypto::Sha256Digest image_sha256{};  // the exact image to start
  std::uint64_t security_counter = 0;   // of that image
  std::string firmware_version;
  BootState next_state;            // store before starting; its boot_count is the boot id
  std::vector<std::string> notes;  // rollbacks, refusals, crash loops: for the log
};

BootPlan plan_boot(const BootState& state, const SlotChecks& slots, const BootPolicy& policy);

// The state once the boot `plan` reported healthy, applied to `current` (the state as stored
// now, which an install may have changed since the boot started). A trial image becomes the
// confirmed active image and raises the security counter; a confirmed boot clears its failures.
BootState after_healthy(const BootState& current, const BootPlan& plan);

// A state rebuilt from the slots alone, for a device whose stored state is missing or damaged:
// the verified image with the highest security counter becomes active and confirmed, and the
// counter is raised to it (so a damaged state file never opens the door to a rollback).
BootState rebuild_state(const SlotChecks& slots, std::vector<std::string>& notes);

}  // namespace faregate::update
