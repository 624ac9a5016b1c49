#pragma once
// A clock that moves only when told: tests advance it instead of sleeping, and the scenario
// runner drives a whole service day with it faster than real time. Thread-safe.

#include <atomic>
#include <cstdint>

#include "hal/clock.h"

namespace faregate::hal::sim {

class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_utc_ms = 1'767'225'600'000 /* 2026-01-01T00:00Z */)
      : utc_ms_(start_utc_ms) {}

  std::int64_t utc_ms() const override { return utc_ms_.load(); }
  std::uint64_t monotonic_ms() const override { return monotonic_ms_.load(); }

  // Moves both clocks forward. Requires: ms >= 0.
  void advance_ms(std::int64_t ms) {
    utc_ms_ += ms;
    monotonic_ms_ += static_cast<std::uint64_t>(ms);
  }
  // Sets the wall clock only (a time correction); the monotonic clock is unaffected.
  void set_utc_ms(std::int64_t utc_ms) { utc_ms_ = utc_ms; }

 private:
  std::atomic<std::int64_t> utc_ms_;
  std::atomic<std::uint64_t> monotonic_ms_{0};
};

}  // namespace faregate::hal::sim
