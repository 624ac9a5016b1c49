#pragma once
// A fresh directory under $TMPDIR for one test, removed with everything in it at scope exit.
// Shared by every test folder.

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace faregate::testing {

class TempDir {
 public:
  // `parent` lets a benchmark choose the file system it measures.
  explicit TempDir(const std::filesystem::path& parent = std::filesystem::temp_directory_path()) {
    std::string pattern = (parent / "faregate-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace faregate::testing
