#pragma once
// The subcommands of faregate-sign, one function each. Each prints its result to `out`, its
// errors to `err`, and returns the process exit code: 0 done, 1 bad input or I/O error,
// 2 image refused (verify, show, export on an invalid image).

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

namespace faregate::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitRefused = 2;

struct KeygenArgs {
  std::filesystem::path out_key;
  std::filesystem::path out_pub;
  bool force = false;
};
int run_keygen(const KeygenArgs& args, std::ostream& out, std::ostream& err);

struct SignArgs {
  std::filesystem::path key;
  std::string version;
  std::uint64_t counter = 0;
  std::filesystem::path in;
  std::filesystem::path out;
  bool force = false;
};
int run_sign(const SignArgs& args, std::ostream& out, std::ostream& err);

struct VerifyArgs {
  std::filesystem::path pub;
  std::filesystem::path image;
  std::optional<std::uint64_t> min_counter;
  bool json = false;
};
int run_verify(const VerifyArgs& args, std::ostream& out, std::ostream& err);

struct ShowArgs {
  std::filesystem::path image;
  bool json = false;
};
int run_show(const ShowArgs& args, std::ostream& out, std::ostream& err);

struct ExportArgs {
  std::filesystem::path image;
  std::filesystem::path header_and_payload;
  std::filesystem::path signature;
  bool force = false;
};
int run_export(const ExportArgs& args, std::ostream& out, std::ostream& err);

}  // namespace faregate::tools
