#pragma once
// Decoders for the card data objects the transit kernel keeps (EMV Book 3, Annex A formats).
// Each takes the value bytes as the card sent them and returns nullopt when they are not what
// the format allows; none of them reads past its input or trusts a length from it.

#include <chrono>
#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "firmware/emv/sensitive_pan.h"

namespace faregate::emv {

// One BCD byte 00-99, or -1 if a nibble is not a decimal digit.
int bcd_byte(std::uint8_t b);

// PAN (5A), format 'cn': BCD digits, left-aligned, F nibbles only as trailing padding;
// 12-19 digits with a valid Luhn check digit.
std::optional<SensitivePan> decode_pan(ByteView value);

// Track 2 equivalent data (57), format 'b': PAN digits, separator D, expiry YYMM, service code,
// discretionary digits, one F nibble of padding when the count is odd. Returns the PAN.
std::optional<SensitivePan> track2_pan(ByteView value);

// Expiry (5F24), format 'n6' YYMMDD. Years 00-49 are 20YY, 50-99 19YY (EMV Book 4, 6.7.3).
std::optional<std::chrono::year_month_day> decode_expiry(ByteView value);

// A big-endian unsigned integer of 1..8 bytes (ATC 9F36, AIP 82), or nullopt.
std::optional<std::uint64_t> decode_binary(ByteView value, std::size_t min_bytes,
                                           std::size_t max_bytes);

}  // namespace faregate::emv
