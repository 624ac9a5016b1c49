#include "tests/firmware/update/update_test_support.h"

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "firmware/update/slot_check.h"

namespace faregate::update::testing {

SigningKey seeded_key(std::uint64_t seed) {
  auto rng = crypto::Drbg::deterministic(seed);
  auto key = SigningKey::generate(rng);
  if (!key) throw std::runtime_error(key.error().describe());
  return std::move(*key);
}

Bytes make_image(const SigningKey& key, const std::string& version, std::uint64_t counter,
                 const std::string& payload) {
  auto rng = crypto::Drbg::deterministic(counter + 17);
  const std::string body =
      payload.empty() ? "#!/bin/sh\necho validator " + version + "\n" : payload;
  auto image = build_signed_image({version, counter}, as_bytes(body), key, rng);
  if (!image) throw std::runtime_error(image.error().describe());
  return *image;
}

std::map<std::string, Bytes> snapshot(const std::filesystem::path& dir) {
  std::map<std::string, Bytes> files;
  if (!std::filesystem::exists(dir)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    files[std::filesystem::relative(entry.path(), dir).string()] =
        Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return files;
}

SlotChecks checks_for(const Bytes* a, const Bytes* b, const PublicKey& trusted) {
  SlotChecks checks;
  const Bytes* images[] = {a, b};
  for (std::size_t i = 0; i < 2; ++i) {
    if (images[i] != nullptr) {
      checks[i] = check_slot_image(*images[i], trusted);
    } else {
      checks[i].problem = "empty";
    }
  }
  return checks;
}

}  // namespace faregate::update::testing
