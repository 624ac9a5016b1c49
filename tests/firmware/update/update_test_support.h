#pragma once
// Keys, images and data directories for the firmware/update tests. Keys come from seeded
// generators so that every run builds the same images.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "common/bytes.h"
#include "common/crypto.h"
#include "firmware/update/boot_decision.h"
#include "firmware/update/image_signer.h"
#include "firmware/update/signing_key.h"

namespace faregate::update::testing {

// A P-256 key from a seeded generator: the same seed gives the same key.
SigningKey seeded_key(std::uint64_t seed);

// A signed image of `payload` (default: a payload naming the version).
Bytes make_image(const SigningKey& key, const std::string& version, std::uint64_t counter,
                 const std::string& payload = "");

// Every file under `dir` with its contents, for "nothing changed" checks.
std::map<std::string, Bytes> snapshot(const std::filesystem::path& dir);

// SlotChecks as inspect_slots would give for these images (nullptr: empty slot).
SlotChecks checks_for(const Bytes* a, const Bytes* b, const PublicKey& trusted);

}  // namespace faregate::update::testing
