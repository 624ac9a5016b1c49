#pragma once
// A timing model of the ISO/IEC 14443 radio link, so that simulated taps report how long the
// exchanges would take in the air without hardware. It charges each APDU exchange its frames'
// transmission time at the chosen bit rate plus the minimum frame delay times; the card's own
// processing time is not modelled (real cards add it on top).
//
// Facts used (ISO/IEC 14443-2, -3, -4):
// - carrier fc = 13.56 MHz; at 106 kbit/s one elementary time unit (etu) is 128/fc (9.44 us),
//   at 212/424/848 kbit/s it is 64/fc, 32/fc, 16/fc;
// - type A sends each byte as 9 etu (8 data bits and an odd parity bit), plus start and end of
//   frame (1 etu each);
// - an ISO-DEP I-block wraps the APDU in a 1-byte PCB and a 2-byte CRC_A;
// - the minimum frame delay between the end of one frame and the start of the answer is
//   1172/fc (86.4 us) in each direction.

#include <chrono>
#include <cstddef>

namespace faregate::hal::sim {

enum class BitRate { k106 = 106, k212 = 212, k424 = 424, k848 = 848 };

// Air time of one APDU exchange: reader I-block, delay, card I-block, delay.
std::chrono::microseconds exchange_air_time(std::size_t command_apdu_bytes,
                                            std::size_t response_apdu_bytes, BitRate rate);

// Parses "106", "212", "424" or "848"; false for anything else.
bool parse_bit_rate(int kbps, BitRate& out);

}  // namespace faregate::hal::sim
