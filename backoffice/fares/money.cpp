#include "backoffice/fares/money.h"

#include <cstdlib>
#include <limits>

namespace faregate::fares {

Result<CurrencyCode> CurrencyCode::parse(std::string_view code) {
  if (code.size() != 3) return make_error(ErrorCode::kInvalidArgument, "currency code must be 3 letters");
  CurrencyCode out;
  for (std::size_t i = 0; i < 3; ++i) {
    char c = code[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c < 'A' || c > 'Z') return make_error(ErrorCode::kInvalidArgument, "currency code must be 3 letters");
    out.code_[i] = c;
  }
  out.size_ = 3;
  return out;
}

int CurrencyCode::minor_digits() const {
  // ISO 4217 currencies whose minor unit is not 2 decimal places (active codes).
  static constexpr std::string_view kZero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
                                               "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
                                               "XPF"};
  static constexpr std::string_view kThree[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};
  static constexpr std::string_view kFour[] = {"CLF", "UYW"};
  const std::string_view c = str();
  for (auto z : kZero)
    if (c == z) return 0;
  for (auto t : kThree)
    if (c == t) return 3;
  for (auto f : kFour)
    if (c == f) return 4;
  return 2;
}

Result<std::int64_t> parse_amount(std::string_view text, const CurrencyCode& currency) {
  const int digits = currency.minor_digits();
  bool negative = false;
  std::size_t i = 0;
  if (!text.empty() && text[0] == '-') {
    negative = true;
    i = 1;
  }
  if (i >= text.size()) return make_error(ErrorCode::kInvalidArgument, "empty amount");
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 100000;
  std::int64_t units = 0;
  bool any_digit = false;
  for (; i < text.size() && text[i] != '.'; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return make_error(ErrorCode::kInvalidArgument, "amount '" + std::string(text) + "' is not a decimal number");
    units = units * 10 + (c - '0');
    any_digit = true;
    if (units > kMax) return make_error(ErrorCode::kInvalidArgument, "amount '" + std::string(text) + "' is too large");
  }
  int frac_digits = 0;
  std::int64_t frac = 0;
  if (i < text.size()) {  // text[i] == '.'
    ++i;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (c < '0' || c > '9') return make_error(ErrorCode::kInvalidArgument, "amount '" + std::string(text) + "' is not a decimal number");
      if (frac_digits == digits) {
        return make_error(ErrorCode::kInvalidArgument,
                          "amount '" + std::string(text) + "' has more decimals than " +
                              std::string(currency.str()) + " allows (" + std::to_string(digits) + ")");
      }
      frac = frac * 10 + (c - '0');
      ++frac_digits;
      any_digit = true;
    }
  }
  if (!any_digit) return make_error(ErrorCode::kInvalidArgument, "amount '" + std::string(text) + "' has no digits");
  for (int d = frac_digits; d < digits; ++d) frac *= 10;
  std::int64_t scale = 1;
  for (int d = 0; d < digits; ++d) scale *= 10;
  const std::int64_t minor = units * scale + frac;
  return negative ? -minor : minor;
}

std::string format_amount(std::int64_t minor, const CurrencyCode& currency) {
  const int digits = currency.minor_digits();
  const bool negative = minor < 0;
  // Work in unsigned so that INT64_MIN does not overflow on negation.
  std::uint64_t magnitude = negative ? 0 - static_cast<std::uint64_t>(minor) : static_cast<std::uint64_t>(minor);
  std::uint64_t scale = 1;
  for (int d = 0; d < digits; ++d) scale *= 10;
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / scale);
  if (digits > 0) {
    std::string frac = std::to_string(magnitude % scale);
    out += '.';
    out.append(static_cast<std::size_t>(digits) - frac.size(), '0');
    out += frac;
  }
  return out;
}

}  // namespace faregate::fares
