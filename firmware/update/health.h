#pragma once
// The contract between faregate-boot and the validator it starts.
//
// The launcher starts the validator with these environment variables:
//   FAREGATE_BOOT_ID           the boot's number (decimal)
//   FAREGATE_HEALTH_FILE       where to write the health marker
//   FAREGATE_BOOT_SLOT         "a" or "b"
//   FAREGATE_BOOT_TRIAL        "1" if this boot is a trial of a new image, else "0"
//   FAREGATE_FIRMWARE_VERSION  the version from the image header
// Once the validator is healthy (reader opened, journal opened) it calls report_healthy(), which
// writes "healthy boot <id>\n" to the health file atomically. A trial image is confirmed only when
// that marker appears. Exit code kRestartExitCode asks the launcher to boot again at once (for
// example to start an image just installed over the air); exit code 0 is a clean shutdown.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace faregate::update {

inline constexpr std::string_view kBootIdEnv = "FAREGATE_BOOT_ID";
inline constexpr std::string_view kHealthFileEnv = "FAREGATE_HEALTH_FILE";
inline constexpr std::string_view kBootSlotEnv = "FAREGATE_BOOT_SLOT";
inline constexpr std::string_view kBootTrialEnv = "FAREGATE_BOOT_TRIAL";
inline constexpr std::string_view kFirmwareVersionEnv = "FAREGATE_FIRMWARE_VERSION";
inline constexpr int kRestartExitCode = 75;

struct LaunchInfo {
  std::uint64_t boot_id = 0;
  std::filesystem::path health_file;
  char slot = 'a';
  bool trial = false;
  std::string firmware_version;
};

// The launch information if this process was started by faregate-boot, else std::nullopt.
std::optional<LaunchInfo> launch_info_from_environment();

std::string health_marker_text(std::uint64_t boot_id);
bool health_marker_matches(std::string_view contents, std::uint64_t boot_id);

// Writes the health marker for `info` atomically.
Status report_healthy(const LaunchInfo& info);

// For the validator: reports healthy if started by faregate-boot. Returns true if a marker was
// written, false if the process was not started by the launcher (nothing to do).
Result<bool> report_healthy();

}  // namespace faregate::update
