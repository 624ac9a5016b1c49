#pragma once
// hal::Gate: what the rider sees and hears, and the barrier. The tap pipeline calls open() only
// after the tap is durably journaled. Backends: hal/sim (virtual gate that records every action
// for tests and prints to the console) and, on real hardware, GPIO/serial drivers.

#include <string>
#include <string_view>

#include "common/error.h"

namespace faregate::hal {

enum class Light { kOff, kGreen, kRed, kAmber };
enum class Tone { kAccept, kDeny, kError };

std::string_view to_string(Light light);
std::string_view to_string(Tone tone);

class Gate {
 public:
  virtual ~Gate() = default;
  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // Releases the barrier for one passage; it closes by itself after the rider passed.
  virtual Status open() = 0;
  virtual Status close() = 0;
  virtual Status set_light(Light light) = 0;
  virtual Status play(Tone tone) = 0;
  // Text for the rider's display, e.g. "Welcome" or "Card expired".
  virtual Status show(std::string_view text) = 0;
};

}  // namespace faregate::hal
