#include "hal/linux/file_key_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace faregate::hal::linux_os {

namespace {
constexpr std::size_t kCardTokenKeyBytes = 32;
}

Result<FileKeyStore> FileKeyStore::open(const std::filesystem::path& card_token_key_file,
                                        const std::filesystem::path& sealing_public_key_file) {
  std::ifstream in(card_token_key_file);
  if (!in) {
    return make_error(ErrorCode::kNotFound,
                      "cannot read card-token key file " + card_token_key_file.string() +
                          " (the operator provisions it: the network's 32-byte key as 64 hex digits)");
  }
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  auto key = from_hex(line);
  if (!key) {
    return make_error(ErrorCode::kInvalidArgument,
                      card_token_key_file.string() + ": " + key.error().message);
  }
  if (key->size() != kCardTokenKeyBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      card_token_key_file.string() + ": card-token key must be 32 bytes, found " +
                          std::to_string(key->size()));
  }
  std::ifstream pem_in(sealing_public_key_file);
  if (!pem_in) {
    return make_error(ErrorCode::kNotFound,
                      "cannot read sealing public key file " + sealing_public_key_file.string() +
                          " (the back office's P-256 public key in PEM, from faregate-keys)");
  }
  std::ostringstream pem;
  pem << pem_in.rdbuf();
  auto sealing_key = sealed_box::PublicKey::from_pem(pem.str());
  if (!sealing_key) {
    return make_error(ErrorCode::kInvalidArgument,
                      sealing_public_key_file.string() + ": " + sealing_key.error().message);
  }
  return FileKeyStore(std::move(*key), *sealing_key);
}

Status write_key_file(const std::filesystem::path& path, ByteView key) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot create key file " + path.string());
  const std::string text = to_hex(key) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return make_error(ErrorCode::kIo, "cannot write key file " + path.string());
  return {};
}

}  // namespace faregate::hal::linux_os
