// Fuzz target: the validator's maintenance port after the TLS handshake, i.e. what a technician's
// tool (or a stolen technician certificate) can send: frames split at a fuzzed point, each body
// parsed as a MaintenanceRequest and handed to one MaintenanceSession over a scratch data
// directory, until the session ends. Every body is also parsed as a MaintenanceResponse (what
// faregate-flash reads from a validator).
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "faregate/v1/maintenance.pb.h"
#include "firmware/maintenance/maintenance_session.h"
#include "firmware/update/boot/build_key.h"
#include "proto/framing.h"

namespace {

const faregate::update::PublicKey& trusted() {
  static const auto kKey =
      faregate::update::PublicKey::from_pem(faregate::update::build_public_key_pem());
  return *kKey;
}

// The scratch directory, removed at exit. The path lives in a static constructed before the exit
// handler is registered, so that it is still alive when the handler runs.
std::filesystem::path& scratch_path() {
  static std::filesystem::path path;
  return path;
}

const std::filesystem::path& scratch() {
  static const bool kMade = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "fg-maint-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return false;
    scratch_path() = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_path(), ec);
    });
    return true;
  }();
  (void)kMade;
  return scratch_path();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || scratch().empty()) return 0;
  const std::size_t split = data[0] % size;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  faregate::maintenance::MaintenanceSession session({scratch(), "gate-fuzz", "fuzz"}, trusted());
  faregate::framing::FrameReader reader(faregate::maintenance::kMaxFrameBytes);
  for (std::string_view part : {bytes.substr(0, std::min(split, bytes.size())),
                                bytes.substr(std::min(split, bytes.size()))}) {
    if (!reader.append(part)) return 0;
    while (auto body = reader.next()) {
      if (!*body) return 0;
      faregate::v1::MaintenanceResponse response;
      (void)faregate::framing::parse_body(**body, response);
      faregate::v1::MaintenanceRequest request;
      if (!faregate::framing::parse_body(**body, request)) return 0;
      const auto answer = session.handle(request);
      if (answer.body_case() == faregate::v1::MaintenanceResponse::BODY_NOT_SET) __builtin_trap();
      if (session.finished()) return 0;
    }
  }
  return 0;
}
