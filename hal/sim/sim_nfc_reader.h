#pragma once
// An in-process NfcReader: cards are placed into and removed from a simulated field by the test
// or the simulator. It can inject the faults a real reader shows: a card that leaves after N
// APDUs, a reader that disappears. Every APDU exchanged is counted, and the radio time each would
// take is left to the caller's timing model.

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>

#include "hal/nfc_reader.h"
#include "hal/sim/contactless_card.h"
#include "hal/sim/radio_model.h"

namespace faregate::hal::sim {

class SimNfcReader final : public NfcReader {
 public:
  SimNfcReader() = default;

  // Puts a card into the field (replacing any other). The reader shares ownership so that the
  // caller may keep inspecting the card.
  void place(std::shared_ptr<ContactlessCard> card);
  // Takes the card out of the field; an exchange in progress fails with kCardRemoved.
  void remove();
  bool has_card() const;

  // Faults. The card leaves the field when it is asked its (n+1)-th APDU of the current tap.
  void remove_card_after_apdus(std::size_t n);
  // The reader stops answering: every call fails with kUnavailable until reconnect().
  void disconnect();
  void reconnect();

  // APDUs exchanged since the card was last activated.
  std::size_t apdus_this_tap() const;

  // The radio timing model: each exchange is charged its air time at this bit rate
  // (default 106 kbit/s). Nothing sleeps; the time is only accounted.
  void set_bit_rate(BitRate rate);
  BitRate bit_rate() const;
  // Modelled air time of the exchanges since the card was last activated.
  std::chrono::microseconds air_time_this_tap() const;
  // Time the virtual card spent computing its answers since it was last activated (its RSA
  // signatures above all). On a real reader this is the card's time, not the validator's, so
  // tap-time figures subtract it from the processing they measure.
  std::chrono::microseconds card_time_this_tap() const;

  std::string describe() const override { return "sim"; }

 private:
  Result<std::optional<CardInfo>> do_wait_for_card(std::chrono::milliseconds timeout) override;
  Result<Bytes> do_transceive(ByteView command_apdu, std::chrono::milliseconds timeout) override;
  Status do_release() override;
  Result<bool> do_wait_for_removal(std::chrono::milliseconds timeout) override;

  mutable std::mutex mutex_;
  std::shared_ptr<ContactlessCard> card_;
  std::optional<std::size_t> remove_after_;
  std::size_t apdus_this_tap_ = 0;
  BitRate bit_rate_ = BitRate::k106;
  std::chrono::microseconds air_time_this_tap_{0};
  std::chrono::microseconds card_time_this_tap_{0};
  bool connected_ = true;
};

}  // namespace faregate::hal::sim
