#pragma once
// The real clocks of a Linux validator: CLOCK_REALTIME and CLOCK_MONOTONIC via std::chrono.

#include <chrono>

#include "hal/clock.h"

namespace faregate::hal::linux_os {

class SystemClock final : public Clock {
 public:
  std::int64_t utc_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  std::uint64_t monotonic_ms() const override {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(
        duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
  }
};

}  // namespace faregate::hal::linux_os
