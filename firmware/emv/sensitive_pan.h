#pragma once
// The PAN while it is in the validator's memory. It lives in a fixed buffer inside the object
// (no heap copy a std::string could leave behind), is wiped when the object dies or is moved
// from, cannot be copied and has no operator<<, so it cannot reach a log line by accident. Code
// that needs the digits (the card token) asks for them explicitly; everything else uses last4().

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <mbedtls/platform_util.h>

namespace faregate::emv {

class SensitivePan {
 public:
  // ISO/IEC 7812-1: a PAN has at most 19 digits; EMV cards carry at least 12.
  static constexpr std::size_t kMinDigits = 12;
  static constexpr std::size_t kMaxDigits = 19;

  SensitivePan() = default;
  SensitivePan(const SensitivePan&) = delete;
  SensitivePan& operator=(const SensitivePan&) = delete;
  SensitivePan(SensitivePan&& other) noexcept { take(other); }
  SensitivePan& operator=(SensitivePan&& other) noexcept {
    if (this != &other) {
      wipe();
      take(other);
    }
    return *this;
  }
  ~SensitivePan() { wipe(); }

  // nullopt unless `digits` is 12 to 19 ASCII digits. No check digit test: see luhn_valid().
  static std::optional<SensitivePan> from_digits(std::string_view digits) {
    if (digits.size() < kMinDigits || digits.size() > kMaxDigits) return std::nullopt;
    SensitivePan pan;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      pan.digits_[pan.size_++] = c;
    }
    return pan;
  }

  // Appends one digit (0-9) while decoding; false if full or not a digit.
  bool push_digit(int digit) {
    if (digit < 0 || digit > 9 || size_ == kMaxDigits) return false;
    digits_[size_++] = static_cast<char>('0' + digit);
    return true;
  }

  // The digits. Valid while this object lives and is not moved from.
  std::string_view digits() const { return {digits_.data(), size_}; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string last4() const {
    return size_ >= 4 ? std::string(digits_.data() + size_ - 4, 4) : std::string();
  }

  // The ISO/IEC 7812-1 (Luhn) check digit is right.
  bool luhn_valid() const {
    if (size_ == 0) return false;
    int sum = 0;
    for (std::size_t i = 0; i < size_; ++i) {
      int d = digits_[size_ - 1 - i] - '0';
      if (i % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    return sum % 10 == 0;
  }

 private:
  void take(SensitivePan& other) {
    digits_ = other.digits_;
    size_ = other.size_;
    other.wipe();
  }
  void wipe() {
    // mbedTLS's zeroize cannot be optimised away, unlike a memset of memory about to die.
    mbedtls_platform_zeroize(digits_.data(), digits_.size());
    size_ = 0;
  }

  std::array<char, kMaxDigits> digits_{};
  std::size_t size_ = 0;
};

}  // namespace faregate::emv
