#include "hal/sim/radio_model.h"

namespace faregate::hal::sim {

namespace {
constexpr double kCarrierHz = 13.56e6;
constexpr double kFrameDelaySeconds = 1172.0 / kCarrierHz;
constexpr std::size_t kIsoDepOverheadBytes = 3;  // PCB + CRC_A
constexpr std::size_t kEtuPerByte = 9;            // 8 bits + parity
constexpr std::size_t kFramingEtu = 2;            // start and end of frame

double etu_seconds(BitRate rate) {
  const double divisor = static_cast<double>(static_cast<int>(rate)) / 106.0;
  return 128.0 / kCarrierHz / divisor;
}

double frame_seconds(std::size_t apdu_bytes, BitRate rate) {
  const std::size_t etus = (apdu_bytes + kIsoDepOverheadBytes) * kEtuPerByte + kFramingEtu;
  return static_cast<double>(etus) * etu_seconds(rate);
}
}  // namespace

std::chrono::microseconds exchange_air_time(std::size_t command_apdu_bytes,
                                            std::size_t response_apdu_bytes, BitRate rate) {
  const double seconds = frame_seconds(command_apdu_bytes, rate) + kFrameDelaySeconds +
                         frame_seconds(response_apdu_bytes, rate) + kFrameDelaySeconds;
  return std::chrono::microseconds(static_cast<long long>(seconds * 1e6 + 0.5));
}

bool parse_bit_rate(int kbps, BitRate& out) {
  switch (kbps) {
    case 106: out = BitRate::k106; return true;
    case 212: out = BitRate::k212; return true;
    case 424: out = BitRate::k424; return true;
    case 848: out = BitRate::k848; return true;
    default: return false;
  }
}

}  // namespace faregate::hal::sim
