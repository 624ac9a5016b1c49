#include "firmware/emv/card_fields.h"

namespace faregate::emv {

int bcd_byte(std::uint8_t b) {
  if ((b >> 4) > 9 || (b & 0x0F) > 9) return -1;
  return (b >> 4) * 10 + (b & 0x0F);
}

std::optional<SensitivePan> decode_pan(ByteView value) {
  if (value.size() > (SensitivePan::kMaxDigits + 1) / 2) return std::nullopt;
  SensitivePan pan;
  bool padding = false;
  for (std::uint8_t b : value) {
    for (int nibble : {b >> 4, b & 0x0F}) {
      if (nibble == 0x0F) {
        padding = true;
      } else if (padding || !pan.push_digit(nibble)) {
        return std::nullopt;  // a digit after padding, a non-digit nibble, or too many digits
      }
    }
  }
  if (pan.size() < SensitivePan::kMinDigits || !pan.luhn_valid()) return std::nullopt;
  return pan;
}

std::optional<SensitivePan> track2_pan(ByteView value) {
  if (value.size() > 19) return std::nullopt;
  SensitivePan pan;
  bool separator = false;
  std::size_t after_separator = 0;
  const std::size_t nibbles = value.size() * 2;
  for (std::size_t i = 0; i < nibbles; ++i) {
    const int nibble = i % 2 == 0 ? value[i / 2] >> 4 : value[i / 2] & 0x0F;
    if (!separator) {
      if (nibble == 0x0D) {
        separator = true;
      } else if (!pan.push_digit(nibble)) {
        return std::nullopt;
      }
    } else if (nibble == 0x0F && i == nibbles - 1) {
      break;  // padding
    } else if (nibble > 9) {
      return std::nullopt;
    } else {
      ++after_separator;
    }
  }
  // YYMM and the three-digit service code must follow the separator.
  if (!separator || after_separator < 7 || pan.size() < SensitivePan::kMinDigits) {
    return std::nullopt;
  }
  return pan;
}

std::optional<std::chrono::year_month_day> decode_expiry(ByteView value) {
  if (value.size() != 3) return std::nullopt;
  const int yy = bcd_byte(value[0]);
  const int mm = bcd_byte(value[1]);
  const int dd = bcd_byte(value[2]);
  if (yy < 0 || mm < 0 || dd < 0) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(yy < 50 ? 2000 + yy : 1900 + yy),
                                         std::chrono::month(static_cast<unsigned>(mm)),
                                         std::chrono::day(static_cast<unsigned>(dd))};
  if (!date.ok()) return std::nullopt;
  return date;
}

std::optional<std::uint64_t> decode_binary(ByteView value, std::size_t min_bytes,
                                           std::size_t max_bytes) {
  if (value.size() < min_bytes || value.size() > max_bytes || value.size() > 8) {
    return std::nullopt;
  }
  std::uint64_t out = 0;
  for (std::uint8_t b : value) out = out << 8 | b;
  return out;
}

}  // namespace faregate::emv
