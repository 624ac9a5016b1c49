#pragma once
// hal::Clock: the only source of time for business code (STYLE: no hidden time). Backends:
// hal/linux SystemClock, hal/sim ManualClock (tests and accelerated simulations).

#include <cstdint>

namespace faregate::hal {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall clock, UTC epoch milliseconds. May jump when the device corrects its time.
  virtual std::int64_t utc_ms() const = 0;
  // Milliseconds since an arbitrary start; never goes backwards.
  virtual std::uint64_t monotonic_ms() const = 0;
};

}  // namespace faregate::hal
