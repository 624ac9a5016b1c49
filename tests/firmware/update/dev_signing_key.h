#pragma once
// The development signing key (tests/firmware/update/data/dev_signing_key.pem), which the default
// faregate-boot trusts, for the tests that run the real launcher. Their CMake target defines
// FAREGATE_DEV_SIGNING_KEY as the key file's path.

#include <stdexcept>

#include "firmware/update/signing_key.h"

namespace faregate::update::testing {

// Loaded once. Throws when the file is missing or unreadable (a broken checkout, not a result).
inline const SigningKey& dev_key() {
  static const SigningKey kKey = [] {
    auto key = SigningKey::from_file(FAREGATE_DEV_SIGNING_KEY);
    if (!key) throw std::runtime_error(key.error().describe());
    return std::move(*key);
  }();
  return kKey;
}

}  // namespace faregate::update::testing
