#include "firmware/update/installer.h"

#include <fmt/format.h>

#include "firmware/update/firmware_dir.h"
#include "firmware/update/firmware_status.h"
#include "firmware/update/image_verifier.h"

namespace faregate::update {

namespace {

SlotState slot_state(Slot slot, SlotRole role, const VerifiedImage& image, bool already) {
  return SlotState{slot, role, image.header, image.image_sha256, already};
}

}  // namespace

Result<SlotState> install_image(const std::filesystem::path& data_dir, ByteView image,
                                const PublicKey& trusted, FileOps& ops,
                                const InstallOptions& options) {
  auto verified = verify_image(image, trusted);
  if (!verified) return std::unexpected(verified.error());

  const FirmwareDir dir(data_dir);
  if (auto ok = dir.create(ops); !ok) return std::unexpected(ok.error());
  auto lock = FirmwareLock::acquire(dir);
  if (!lock) return std::unexpected(lock.error());
  auto status = read_firmware_status(dir, ops, trusted);
  if (!status) return std::unexpected(status.error());
  BootState state = status->state;
  if (auto ok = check_security_counter(verified->header, state.security_counter); !ok) {
    return std::unexpected(ok.error());
  }

  // Installing what is already there writes nothing (a technician may simply retry).
  if (state.active &&
      status->slots[slot_index(*state.active)].image_sha256 == verified->image_sha256 &&
      state.confirmed_image[slot_index(*state.active)] == verified->image_sha256 &&
      !status->state_rebuilt) {
    return slot_state(*state.active, SlotRole::kActive, *verified, true);
  }
  if (state.pending && state.pending_image == verified->image_sha256 &&
      status->slots[slot_index(*state.pending)].image_sha256 == verified->image_sha256) {
    return slot_state(*state.pending, SlotRole::kPending, *verified, true);
  }

  // Never overwrite the last good image: if the active slot is damaged but the other one holds
  // a confirmed image, the device runs that one (the launcher would switch to it anyway).
  if (state.active) {
    const auto good = [&](Slot s) {
      const SlotCheck& check = status->slots[slot_index(s)];
      return check.verified() && state.confirmed_image[slot_index(s)] == check.image_sha256 &&
             check.header->security_counter >= state.security_counter;
    };
    if (!good(*state.active) && good(other_slot(*state.active))) {
      state.active = other_slot(*state.active);
      state.failed_boots = 0;
    }
  }
  const Slot target = state.active ? other_slot(*state.active) : Slot::kA;
  if (auto ok = atomic_write_file(ops, dir.slot_file(target), image, options.chunk_bytes,
                                  options.progress);
      !ok) {
    return with_context(ok.error(), fmt::format("writing slot {}", slot_letter(target)));
  }
  // Read back what the disk holds, so that a bad write is caught now and not at the next boot.
  auto written = dir.read_slot(ops, target);
  if (!written) {
    return with_context(written.error(), fmt::format("reading slot {} back", slot_letter(target)));
  }
  auto reverified = verify_image(*written, trusted);
  if (!reverified || reverified->image_sha256 != verified->image_sha256) {
    return make_error(
        ErrorCode::kIo,
        fmt::format("slot {} does not hold the image after writing it: {}", slot_letter(target),
                    reverified ? "contents differ" : reverified.error().message));
  }

  SlotRole role = SlotRole::kPending;
  state.confirmed_image[slot_index(target)].reset();
  if (!state.active) {
    state.active = target;
    state.confirmed_image[slot_index(target)] = verified->image_sha256;
    state.security_counter = std::max(state.security_counter, verified->header.security_counter);
    state.failed_boots = 0;
    state.pending.reset();
    state.pending_image.reset();
    role = SlotRole::kActive;
  } else {
    state.pending = target;
    state.pending_image = verified->image_sha256;
  }
  state.trial_boots = 0;
  if (auto ok = dir.save_state(ops, state); !ok) {
    return with_context(ok.error(), "recording the boot state");
  }
  return slot_state(target, role, *verified, false);
}

Result<SlotState> install_image_file(const std::filesystem::path& data_dir,
                                     const std::filesystem::path& image_file,
                                     const PublicKey& trusted, FileOps& ops,
                                     const InstallOptions& options) {
  auto bytes = ops.read(image_file, kMaxImageBytes);
  if (!bytes) return std::unexpected(bytes.error());
  return install_image(data_dir, *bytes, trusted, ops, options);
}

Result<SlotState> install_image(const std::filesystem::path& data_dir, ByteView image,
                                const PublicKey& trusted, const InstallOptions& options) {
  PosixFileOps ops;
  return install_image(data_dir, image, trusted, ops, options);
}

}  // namespace faregate::update
