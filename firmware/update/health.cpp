#include "firmware/update/health.h"

#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "common/bytes.h"
#include "firmware/update/file_ops.h"

namespace faregate::update {

namespace {
std::optional<std::string_view> env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string_view(value);
}
}  // namespace

std::optional<LaunchInfo> launch_info_from_environment() {
  const auto id = env(kBootIdEnv);
  const auto file = env(kHealthFileEnv);
  if (!id || !file || file->empty()) return std::nullopt;
  LaunchInfo info;
  const auto [end, ec] = std::from_chars(id->data(), id->data() + id->size(), info.boot_id);
  if (ec != std::errc() || end != id->data() + id->size()) return std::nullopt;
  info.health_file = std::string(*file);
  if (const auto slot = env(kBootSlotEnv); slot && (*slot == "a" || *slot == "b")) {
    info.slot = (*slot)[0];
  }
  info.trial = env(kBootTrialEnv).value_or("0") == "1";
  info.firmware_version = std::string(env(kFirmwareVersionEnv).value_or(""));
  return info;
}

std::string health_marker_text(std::uint64_t boot_id) {
  return fmt::format("healthy boot {}\n", boot_id);
}

bool health_marker_matches(std::string_view contents, std::uint64_t boot_id) {
  return contents == health_marker_text(boot_id);
}

Status report_healthy(const LaunchInfo& info) {
  PosixFileOps ops;
  return atomic_write_file(ops, info.health_file, as_bytes(health_marker_text(info.boot_id)));
}

Result<bool> report_healthy() {
  const auto info = launch_info_from_environment();
  if (!info) return false;
  if (auto ok = report_healthy(*info); !ok) return std::unexpected(ok.error());
  return true;
}

}  // namespace faregate::update
