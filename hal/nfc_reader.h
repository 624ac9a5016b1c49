#pragma once
// hal::NfcReader: a contactless reader as the tap pipeline sees it. Backends: hal/libnfc (real
// PN532 and other readers, and the simulator's virtual PN532 over a pty) and hal/sim (in-process
// virtual cards).
//
// Shape (after Pigweed's pw_i2c): the public methods are non-virtual, check their inputs and the
// reader state, then call the private do_* hooks that each backend implements. Not thread-safe:
// one thread (the card thread) owns a reader.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "common/error.h"

namespace faregate::hal {

// What the reader learnt about a card during anticollision and activation (ISO 14443-3/-4).
struct CardInfo {
  Bytes uid;               // 4, 7 or 10 bytes
  std::uint16_t atqa = 0;
  std::uint8_t sak = 0;
  Bytes ats;               // answer to select, starting with TL; empty if none
  // SAK bit 6 (0x20): the card speaks ISO 14443-4, so it can carry APDUs.
  bool supports_iso_dep() const { return (sak & 0x20) != 0; }
};

// ISO 7816-4 short APDU limits: header 4 + Lc 1 + 255 data + Le 1.
inline constexpr std::size_t kMaxCommandApduBytes = 261;
inline constexpr std::size_t kMinCommandApduBytes = 4;
// 256 data bytes + SW1 SW2.
inline constexpr std::size_t kMaxResponseApduBytes = 258;

class NfcReader {
 public:
  virtual ~NfcReader() = default;
  NfcReader() = default;
  NfcReader(const NfcReader&) = delete;
  NfcReader& operator=(const NfcReader&) = delete;

  // Waits up to `timeout` for a card to enter the field and activates it.
  // Returns: the card, nullopt if none came in time, or an error if the reader failed.
  Result<std::optional<CardInfo>> wait_for_card(std::chrono::milliseconds timeout);

  // Sends one command APDU to the activated card and returns its response including SW1 SW2.
  // Requires: a card returned by wait_for_card and not yet released.
  // Errors: kInvalidArgument (APDU size), kCardRemoved, kTimeout, kProtocol (response too short
  // or too long), kUnavailable (reader gone).
  Result<Bytes> transceive(ByteView command_apdu, std::chrono::milliseconds timeout);

  // Ends the exchange with the current card (deselect). Safe to call with no card.
  Status release();

  // Waits up to `timeout` for the field to be empty, so that a card left on the reader is not
  // read twice. Returns true once no card is present.
  Result<bool> wait_for_removal(std::chrono::milliseconds timeout);

  // Closes and opens the device again after it failed with kUnavailable (unplugged and back, a
  // line error the driver cannot resynchronise). Any card activation is lost.
  Status reopen();

  // "sim", "pn532_uart:/dev/pts/3", ... for logs.
  virtual std::string describe() const = 0;

 protected:
  bool card_active() const { return card_active_; }

 private:
  virtual Result<std::optional<CardInfo>> do_wait_for_card(std::chrono::milliseconds timeout) = 0;
  virtual Result<Bytes> do_transceive(ByteView command_apdu, std::chrono::milliseconds timeout) = 0;
  virtual Status do_release() = 0;
  virtual Result<bool> do_wait_for_removal(std::chrono::milliseconds timeout) = 0;
  // Backends without a device to reopen (the in-process reader) keep this default.
  virtual Status do_reopen() { return {}; }

  bool card_active_ = false;
};

}  // namespace faregate::hal
