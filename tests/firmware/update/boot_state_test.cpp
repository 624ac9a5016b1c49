// The boot state file: exact round trip, and a strict parser for a file that a damaged disk or
// an intruder may have changed.

#include <catch2/catch.hpp>

#include "common/bytes.h"
#include "firmware/update/boot_state.h"

namespace faregate::update {
namespace {

BootState full_state() {
  BootState s;
  s.active = Slot::kB;
  s.pending = Slot::kA;
  s.pending_image = crypto::sha256(as_bytes("a"));
  s.confirmed_image[1] = crypto::sha256(as_bytes("b"));
  s.confirmed_image[0] = crypto::sha256(as_bytes("old a"));
  s.trial_boots = 2;
  s.failed_boots = 1;
  s.security_counter = 123456789012345ull;
  s.boot_count = 42;
  return s;
}

// A state file with a valid check line around any body, to reach the checks behind it.
std::string sealed(const std::string& body) {
  return body + "check " + to_hex(crypto::sha256(as_bytes(body))) + "\n";
}

std::string body_of(const BootState& s) {
  const std::string text = encode_boot_state(s);
  return text.substr(0, text.rfind("check "));
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("boot states survive encode and decode unchanged") {
  for (const BootState& s : {BootState{}, full_state()}) {
    auto decoded = decode_boot_state(encode_boot_state(s));
    REQUIRE(decoded);
    CHECK(*decoded == s);
  }
}

TEST_CASE("every truncation and every changed byte of a boot state file is refused") {
  const std::string text = encode_boot_state(full_state());
  for (std::size_t n = 0; n < text.size(); ++n) {
    INFO("length " << n);
    CHECK_FALSE(decode_boot_state(text.substr(0, n)));
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::string changed = text;
    changed[i] = static_cast<char>(changed[i] ^ 0x01);
    INFO("byte " << i);
    auto s = decode_boot_state(changed);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == ErrorCode::kCorrupt);
  }
}

TEST_CASE("inconsistent boot states are refused even with a valid check line") {
  BootState s = full_state();
  const std::string body = body_of(s);
  CHECK_FALSE(
      decode_boot_state(sealed(replace(body, "pending a", "pending b"))));  // pending == active
  CHECK_FALSE(
      decode_boot_state(sealed(replace(body, "pending a", "pending -"))));  // image without slot
  s.confirmed_image[1].reset();
  CHECK_FALSE(decode_boot_state(sealed(body_of(s))));  // active slot never confirmed
}

TEST_CASE("hostile values in a sealed boot state are refused") {
  const std::string body = body_of(full_state());
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"trial_boots 2", "trial_boots 99999999999"},
           {"trial_boots 2", "trial_boots -1"},
           {"trial_boots 2", "trial_boots 2x"},
           {"trial_boots 2", "trial_boots "},
           {"security_counter 123456789012345", "security_counter 184467440737095516160"},
           {"active b", "active c"},
           {"active b", "active"},
           {"boot_count 42\n", "boot_count 42\nextra 1\n"},
           {"confirmed_a ", "confirmed_x "},
           {"pending_image ", "pending_image 00"},
       }) {
    INFO(from << " -> " << to);
    CHECK_FALSE(decode_boot_state(sealed(replace(body, from, to))));
  }
  CHECK_FALSE(decode_boot_state(sealed(body + std::string(5000, 'x'))));
  CHECK_FALSE(decode_boot_state(std::string(5000, '\n')));
  CHECK_FALSE(decode_boot_state(""));
}

}  // namespace faregate::update
