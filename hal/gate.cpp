#include "hal/gate.h"

namespace faregate::hal {

std::string_view to_string(Light light) {
  switch (light) {
    case Light::kOff: return "off";
    case Light::kGreen: return "green";
    case Light::kRed: return "red";
    case Light::kAmber: return "amber";
  }
  return "unknown";
}

std::string_view to_string(Tone tone) {
  switch (tone) {
    case Tone::kAccept: return "accept";
    case Tone::kDeny: return "deny";
    case Tone::kError: return "error";
  }
  return "unknown";
}

}  // namespace faregate::hal
