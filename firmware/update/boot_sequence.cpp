#include "firmware/update/boot_sequence.h"

#include <fmt/format.h>

#include "firmware/update/firmware_status.h"
#include "firmware/update/health.h"
#include "firmware/update/image_verifier.h"

namespace faregate::update {

Result<BootPlan> begin_boot(const FirmwareDir& dir, FileOps& ops, const PublicKey& trusted,
                            const BootPolicy& policy) {
  auto lock = FirmwareLock::acquire(dir);
  if (!lock) return std::unexpected(lock.error());
  auto status = read_firmware_status(dir, ops, trusted);
  if (!status) return std::unexpected(status.error());
  BootPlan plan = plan_boot(status->state, status->slots, policy);
  plan.notes.insert(plan.notes.begin(), status->notes.begin(), status->notes.end());
  if (plan.slot) {
    if (auto ok = dir.save_state(ops, plan.next_state); !ok) {
      return with_context(ok.error(), "recording the boot attempt");
    }
  }
  return plan;
}

Result<Bytes> load_planned_image(const FirmwareDir& dir, FileOps& ops, const PublicKey& trusted,
                                 const BootPlan& plan) {
  if (!plan.slot) return make_error(ErrorCode::kInvalidArgument, "no slot planned");
  auto bytes = dir.read_slot(ops, *plan.slot);
  if (!bytes) return std::unexpected(bytes.error());
  auto verified = verify_image(*bytes, trusted);
  if (!verified) return std::unexpected(verified.error());
  if (verified->image_sha256 != plan.image_sha256) {
    return make_error(ErrorCode::kConflict, fmt::format("slot {} changed after the boot decision",
                                                        slot_letter(*plan.slot)));
  }
  return std::move(*bytes);
}

bool health_reported(const FirmwareDir& dir, FileOps& ops, const BootPlan& plan) {
  auto marker = ops.read(dir.health_file(), 256);
  return marker && health_marker_matches(to_string(*marker), plan.next_state.boot_count);
}

Result<BootState> confirm_healthy(const FirmwareDir& dir, FileOps& ops, const BootPlan& plan) {
  auto lock = FirmwareLock::acquire(dir);
  if (!lock) return std::unexpected(lock.error());
  auto stored = dir.load_state(ops);
  if (!stored) return std::unexpected(stored.error());
  if (!stored->has_value()) {
    return make_error(ErrorCode::kNotFound, "boot state disappeared during the boot");
  }
  const BootState next = after_healthy(**stored, plan);
  if (next == **stored) return next;
  if (auto ok = dir.save_state(ops, next); !ok) {
    return with_context(ok.error(), "recording the health report");
  }
  return next;
}

}  // namespace faregate::update
