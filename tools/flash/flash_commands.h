#pragma once
// The two jobs of faregate-flash: install an image into a validator's data directory (offline),
// and report what the validator runs and what is pending. Each prints its result to `out`,
// progress and errors to `err`, and returns the exit code: 0 done, 1 bad input or I/O error,
// 2 image refused (the validator keeps its current image).

#include <filesystem>
#include <iosfwd>
#include <optional>

#include "firmware/update/signing_key.h"

namespace faregate::tools {

inline constexpr int kFlashOk = 0;
inline constexpr int kFlashError = 1;
inline constexpr int kFlashRefused = 2;

struct InstallArgs {
  std::filesystem::path data_dir;
  std::filesystem::path image;
  bool json = false;
};
int run_install(const InstallArgs& args, const update::PublicKey& trusted, std::ostream& out,
                std::ostream& err);

struct StatusArgs {
  std::filesystem::path data_dir;
  bool json = false;
};
int run_status(const StatusArgs& args, const update::PublicKey& trusted, std::ostream& out,
               std::ostream& err);

}  // namespace faregate::tools
