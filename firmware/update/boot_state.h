#pragma once
// The boot state: which slot runs, which one waits for a trial, how many attempts were made, and
// the highest security counter the device has confirmed. Kept as a small text file with its own
// SHA-256 line (format: docs/firmware_image.md, "Boot state"); firmware_dir.h stores it
// atomically.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/error.h"

namespace faregate::update {

enum class Slot { kA = 0, kB = 1 };

inline Slot other_slot(Slot s) { return s == Slot::kA ? Slot::kB : Slot::kA; }
inline char slot_letter(Slot s) { return s == Slot::kA ? 'a' : 'b'; }
inline std::size_t slot_index(Slot s) { return static_cast<std::size_t>(s); }

struct BootState {
  // The confirmed slot the device runs; empty on a device that never had an image.
  std::optional<Slot> active;
  // A newly installed image waiting for its trial boots, and the SHA-256 of that exact image:
  // a slot file that no longer matches is not the image that was installed.
  std::optional<Slot> pending;
  std::optional<crypto::Sha256Digest> pending_image;
  // Per slot, the SHA-256 of the image that passed its health check in that slot, if any. Only
  // such images may run outside a trial (as the active slot, or as the fallback of a crash loop).
  std::array<std::optional<crypto::Sha256Digest>, 2> confirmed_image;
  std::uint32_t trial_boots = 0;   // trial boots of the pending image started so far
  std::uint32_t failed_boots = 0;  // boots of the active slot since it last reported healthy
  // The highest security counter of any image confirmed on this device; it never goes down.
  std::uint64_t security_counter = 0;
  // Number of boots started; each one's number is its boot id (health marker).
  std::uint64_t boot_count = 0;

  friend bool operator==(const BootState&, const BootState&) = default;
};

inline constexpr std::size_t kMaxBootStateBytes = 4096;

std::string encode_boot_state(const BootState& state);

// Strict parse of untrusted file contents: exact keys in order, a matching check line, and a
// consistent state. Errors are kCorrupt.
Result<BootState> decode_boot_state(std::string_view text);

}  // namespace faregate::update
