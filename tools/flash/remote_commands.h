#pragma once
// faregate-flash over a validator's maintenance port (docs/firmware_image.md, "Maintenance
// port"): status, and install with progress. Exit codes as flash_commands.h: 0 done, 1 bad input,
// connection or TLS failure (a certificate that is not a technician's is refused here), 2 image
// refused by the validator (it keeps its current image).

#include <filesystem>
#include <iosfwd>
#include <string>

namespace faregate::tools {

struct RemoteArgs {
  std::string device;  // HOST:PORT
  std::filesystem::path certificate;
  std::filesystem::path key;
  std::filesystem::path ca;
  bool json = false;
};

int run_remote_status(const RemoteArgs& args, std::ostream& out, std::ostream& err);
int run_remote_install(const RemoteArgs& args, const std::filesystem::path& image,
                       std::ostream& out, std::ostream& err);

}  // namespace faregate::tools
