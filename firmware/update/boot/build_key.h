#pragma once
// The public key compiled into faregate-boot and faregate-flash (CMake cache variable
// FAREGATE_BOOT_PUBLIC_KEY, a PEM file read at configure time). It is the only key whose images
// the launcher starts.

#include <string_view>

namespace faregate::update {

std::string_view build_public_key_pem();

// True when the build uses the development key that ships with the tests (its private half is
// public!): right for development and tests, never for validators in service.
bool build_key_is_development();

}  // namespace faregate::update
