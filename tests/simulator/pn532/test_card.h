#pragma once
// A small contactless card for the PN532 and libnfc tests: it answers SELECT by AID with an FCI,
// GET DATA 80 CA with a 256-byte record (the longest R-APDU a reader must carry), and anything
// else with 6D 00. It can stay silent, leave the field from inside an exchange, and records what
// it was sent. Thread-safe: the virtual PN532 calls it from its serving thread.

#include <cstddef>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "hal/sim/contactless_card.h"

namespace faregate::testing {

// 7-byte UID, ATQA 03 44, SAK 20 (ISO-DEP), ATS 06 75 77 81 02 80: the example of
// shared/reference/pn532-on-a-pty.md.
inline hal::CardInfo iso_dep_card_info() {
  return {Bytes{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}, 0x0344, 0x20,
          Bytes{0x06, 0x75, 0x77, 0x81, 0x02, 0x80}};
}

// 00 A4 04 00 07 A0 00 00 00 03 10 10 00 (Visa credit/debit AID).
inline Bytes select_visa_apdu() {
  return {0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10, 0x00};
}
// 80 CA 9F 7F 00: answered with 256 data bytes + 90 00.
inline Bytes long_get_data_apdu() { return {0x80, 0xCA, 0x9F, 0x7F, 0x00}; }

inline Bytes long_record() {
  Bytes out;
  for (int i = 0; i < 256; ++i) out.push_back(static_cast<std::uint8_t>(i));
  out.push_back(0x90);
  out.push_back(0x00);
  return out;
}

class TestCard final : public hal::sim::ContactlessCard {
 public:
  explicit TestCard(hal::CardInfo info = iso_dep_card_info()) : info_(std::move(info)) {}

  hal::CardInfo info() const override {
    std::lock_guard lock(mutex_);
    return info_;
  }

  Result<Bytes> respond(ByteView apdu) override {
    std::function<void()> hook;
    {
      std::lock_guard lock(mutex_);
      apdus_.emplace_back(apdu.begin(), apdu.end());
      hook = std::exchange(on_next_apdu_, nullptr);
      if (silent_) return make_error(ErrorCode::kTimeout, "test card is silent");
      if (leaves_) return make_error(ErrorCode::kCardRemoved, "test card left");
    }
    if (hook) hook();
    return answer(apdu);
  }

  void on_deselect() override {
    std::lock_guard lock(mutex_);
    ++deselects_;
  }

  // Runs `hook` inside the next respond(), before the card answers.
  void on_next_apdu(std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    on_next_apdu_ = std::move(hook);
  }
  void set_silent(bool silent) {
    std::lock_guard lock(mutex_);
    silent_ = silent;
  }
  // respond() fails with kCardRemoved, as a card does that leaves during the exchange.
  void set_leaves(bool leaves) {
    std::lock_guard lock(mutex_);
    leaves_ = leaves;
  }

  std::vector<Bytes> apdus() const {
    std::lock_guard lock(mutex_);
    return apdus_;
  }
  std::size_t deselects() const {
    std::lock_guard lock(mutex_);
    return deselects_;
  }

 private:
  static Result<Bytes> answer(ByteView apdu) {
    if (apdu.size() >= 5 && apdu[0] == 0x00 && apdu[1] == 0xA4 && apdu[2] == 0x04) {
      const std::size_t lc = apdu[4];
      if (apdu.size() < 5 + lc) return Bytes{0x67, 0x00};
      Bytes fci{0x6F, static_cast<std::uint8_t>(lc + 2), 0x84, static_cast<std::uint8_t>(lc)};
      fci.insert(fci.end(), apdu.begin() + 5, apdu.begin() + 5 + static_cast<std::ptrdiff_t>(lc));
      fci.push_back(0x90);
      fci.push_back(0x00);
      return fci;
    }
    if (apdu.size() >= 2 && apdu[0] == 0x80 && apdu[1] == 0xCA) return long_record();
    return Bytes{0x6D, 0x00};
  }

  mutable std::mutex mutex_;
  hal::CardInfo info_;
  std::vector<Bytes> apdus_;
  std::function<void()> on_next_apdu_;
  std::size_t deselects_ = 0;
  bool silent_ = false;
  bool leaves_ = false;
};

}  // namespace faregate::testing
