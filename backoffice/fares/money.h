#pragma once
// Money: integer minor units (cents) with an ISO 4217 currency code. Never floating point.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace faregate::fares {

// Three upper-case letters, e.g. "EUR". Value type, no allocation.
class CurrencyCode {
 public:
  CurrencyCode() = default;
  // Fails unless `code` is exactly three ASCII letters (case is normalised to upper).
  static Result<CurrencyCode> parse(std::string_view code);
  std::string_view str() const { return {code_.data(), size_}; }
  bool empty() const { return size_ == 0; }
  // Decimal places of the currency's minor unit per ISO 4217 (2 unless listed otherwise).
  int minor_digits() const;
  friend bool operator==(const CurrencyCode&, const CurrencyCode&) = default;

 private:
  std::array<char, 3> code_{};
  std::uint8_t size_ = 0;
};

struct Money {
  std::int64_t minor = 0;
  CurrencyCode currency;
  friend bool operator==(const Money&, const Money&) = default;
};

// Parses a GTFS "Currency amount" ("2.50", "-1.00", "20") into minor units of `currency`.
// Fewer decimals than the currency has are accepted ("2" is 2.00); more decimals than ISO 4217
// allows are refused, as are signs other than a leading '-', exponents and anything non-digit.
Result<std::int64_t> parse_amount(std::string_view text, const CurrencyCode& currency);

// Formats minor units back to a decimal amount with the currency's digits: 250 EUR -> "2.50".
std::string format_amount(std::int64_t minor, const CurrencyCode& currency);

}  // namespace faregate::fares
