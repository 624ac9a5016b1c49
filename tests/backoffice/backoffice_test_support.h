#pragma once
// Shared by the back-office tests and bench/ingest_bench.cpp: a scratch directory and taps that
// look like a validator's.

#include <cstdint>
#include <string>
#include <vector>

#include "faregate/v1/tap.pb.h"
#include "tests/support/temp_dir.h"

namespace faregate::testing {

// Kept as a name for the back-office tests; the one implementation is tests/support.
using ScratchDir = TempDir;

// A tap as a station entry validator journals it; the content depends only on the arguments.
inline faregate::v1::TapRecord make_tap(const std::string& device_id, std::uint64_t seq,
                                        std::uint8_t card = 7) {
  faregate::v1::TapRecord tap;
  tap.set_device_id(device_id);
  tap.set_seq(seq);
  // One tap a second; the modulo keeps absurd test seqs (2^63) from overflowing.
  const auto seconds = static_cast<std::int64_t>(seq % 1'000'000'000);
  tap.set_tap_time_utc_ms(1'767'225'600'000 + seconds * 1'000);
  tap.set_monotonic_ms(5'000 + seq * 1'000);
  tap.set_stop_id("stop-central");
  tap.set_role(faregate::v1::VALIDATOR_ROLE_ENTRY);
  tap.set_card_token(std::string(32, static_cast<char>(card)));
  tap.set_scheme(faregate::v1::CARD_SCHEME_VISA);
  tap.set_pan_last4("4242");
  tap.set_sealed_card_data(std::string(96, static_cast<char>(0xA5)));
  tap.set_oda(faregate::v1::ODA_RESULT_CDA);
  tap.set_decision(faregate::v1::DECISION_ACCEPT);
  tap.set_reason("ok");
  tap.set_atc(static_cast<std::uint32_t>(seq));
  tap.set_firmware_version("1.4.0");
  return tap;
}

// Taps first..last of one device.
inline std::vector<faregate::v1::TapRecord> make_taps(const std::string& device_id,
                                                      std::uint64_t first, std::uint64_t last) {
  std::vector<faregate::v1::TapRecord> taps;
  for (std::uint64_t seq = first; seq <= last; ++seq) taps.push_back(make_tap(device_id, seq));
  return taps;
}

}  // namespace faregate::testing
