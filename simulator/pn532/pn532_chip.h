#pragma once
// A model of the NXP PN532 in reader (initiator) mode, covering what Debian's libnfc 1.8.0 sends
// to it (docs/virtual_pn532.md lists every command). It takes one host command with the frame
// already stripped (command code + parameters) and returns the chip's answer; it does no I/O and
// has no thread of its own: VirtualPn532 puts it on a pseudo-terminal, tests call it directly.
//
// One card at a time sits in the RF field. It is placed and removed from any thread, also while a
// command runs: an exchange that was under way when its card left answers "card disappeared".

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "common/bytes.h"
#include "hal/nfc_reader.h"
#include "hal/sim/contactless_card.h"

namespace faregate::simulator {

namespace pn532 {
// Command codes (host to chip); the answer's code is the command code + 1.
inline constexpr std::uint8_t kDiagnose = 0x00;
inline constexpr std::uint8_t kGetFirmwareVersion = 0x02;
inline constexpr std::uint8_t kGetGeneralStatus = 0x04;
inline constexpr std::uint8_t kReadRegister = 0x06;
inline constexpr std::uint8_t kWriteRegister = 0x08;
inline constexpr std::uint8_t kSetSerialBaudRate = 0x10;
inline constexpr std::uint8_t kSetParameters = 0x12;
inline constexpr std::uint8_t kSamConfiguration = 0x14;
inline constexpr std::uint8_t kPowerDown = 0x16;
inline constexpr std::uint8_t kRfConfiguration = 0x32;
inline constexpr std::uint8_t kInDataExchange = 0x40;
inline constexpr std::uint8_t kInCommunicateThru = 0x42;
inline constexpr std::uint8_t kInDeselect = 0x44;
inline constexpr std::uint8_t kInListPassiveTarget = 0x4A;
inline constexpr std::uint8_t kInRelease = 0x52;
inline constexpr std::uint8_t kInSelect = 0x54;

// Status byte of InDataExchange, InCommunicateThru, InDeselect, ... (PN532 User Manual §7.1).
inline constexpr std::uint8_t kStatusOk = 0x00;
inline constexpr std::uint8_t kStatusTimeout = 0x01;        // the card did not answer
inline constexpr std::uint8_t kStatusNotAcceptable = 0x27;  // no such target in this state
inline constexpr std::uint8_t kStatusTargetReleased = 0x29;
inline constexpr std::uint8_t kStatusCardDisappeared = 0x2B;  // the activated card left
inline constexpr std::uint8_t kStatusMoreInformation = 0x40;  // MI: more data follows
// Bit of the Tg byte of InDataExchange: the host sends a C-APDU in several parts.
inline constexpr std::uint8_t kTargetMoreInformation = 0x40;

// SetParameters flags.
inline constexpr std::uint8_t kParamAutoAtrRes = 0x04;
inline constexpr std::uint8_t kParamAutoRats = 0x10;

// SAK bit 0x20: the card speaks ISO 14443-4.
inline constexpr std::uint8_t kSakIsoDep = 0x20;
}  // namespace pn532

struct Pn532ChipOptions {
  // GetFirmwareVersion: IC (0x32 = PN532), version, revision, support (bit 0x01 = ISO 14443-A,
  // which libnfc requires to poll type A cards).
  std::array<std::uint8_t, 4> firmware_version{0x32, 0x01, 0x06, 0x07};
  // Largest part of an R-APDU one InDataExchange answer carries; longer ones are split with the
  // MI bit and the host fetches the rest. 262 is the PN532's own limit; tests lower it.
  std::size_t max_exchange_chunk = 262;
};

// The chip's answer to one command.
struct Pn532Reply {
  enum class Kind {
    kResponse,     // `data` = response code (command code + 1) and parameters
    kSyntaxError,  // the chip answers with the application-level error frame
  };
  Kind kind = Kind::kResponse;
  Bytes data;
};

class Pn532Chip {
 public:
  Pn532Chip() : Pn532Chip(Pn532ChipOptions{}) {}
  explicit Pn532Chip(Pn532ChipOptions options);
  Pn532Chip(const Pn532Chip&) = delete;
  Pn532Chip& operator=(const Pn532Chip&) = delete;

  // Puts a card into the RF field, replacing any other. Thread-safe.
  void place_card(std::shared_ptr<hal::sim::ContactlessCard> card);
  // Takes the card out of the field. Thread-safe.
  void remove_card();
  bool has_card() const;

  // Runs one host command. `command` = command code + parameters (no TFI). Bytes from the wire
  // are never trusted: malformed parameters give kSyntaxError, never a crash. Calls are
  // serialised; the card's respond() runs without the field lock held.
  Pn532Reply handle(ByteView command);

  // What the host wrote with WriteRegister (0 for addresses never written).
  std::uint8_t register_value(std::uint16_t address) const;
  bool rf_field_on() const;
  // A card was activated by InListPassiveTarget (or InSelect) and not deselected since.
  bool target_selected() const;
  // How often the host sent `command_code` (for tests and traces).
  std::size_t command_count(std::uint8_t command_code) const;

 private:
  // The activated target as the chip remembers it.
  struct Target {
    std::uint64_t placement = 0;  // which placement of a card this is
    hal::CardInfo info;
    bool selected = true;         // false after InDeselect (the card is halted)
    std::uint8_t picc_block = 1;  // ISO 14443-4 block number of the card
    Bytes last_i_block;           // the card's last I-block, for R-block retransmission
    Bytes pending_response;       // the rest of an R-APDU the host fetches with MI
    Bytes pending_command;        // C-APDU parts the host sent with MI in the Tg byte
  };

  Pn532Reply diagnose(ByteView params);
  Pn532Reply get_general_status();
  Pn532Reply read_register(ByteView params);
  Pn532Reply write_register(ByteView params);
  Pn532Reply rf_configuration(ByteView params);
  Pn532Reply power_down(ByteView params);
  Pn532Reply in_list_passive_target(ByteView params);
  Pn532Reply in_data_exchange(ByteView params);
  Pn532Reply in_communicate_thru(ByteView params);
  Pn532Reply in_deselect(std::uint8_t code, ByteView params, bool release);
  Pn532Reply in_select(ByteView params);

  // Asks the card; returns the answer or the status byte to report. Requires: mutex_ not held.
  struct CardAnswer {
    std::uint8_t status = pn532::kStatusOk;
    Bytes data;
  };
  CardAnswer ask_card(ByteView command_apdu);
  // The RF field goes off: the card loses power and forgets its activation. Requires: mutex_.
  std::shared_ptr<hal::sim::ContactlessCard> field_off_locked();
  bool card_of_target_present_locked() const;

  const Pn532ChipOptions options_;
  std::mutex command_mutex_;  // serialises handle()

  mutable std::mutex mutex_;  // guards everything below
  std::shared_ptr<hal::sim::ContactlessCard> card_;
  std::uint64_t placement_ = 0;  // counts placements and removals
  bool card_halted_ = false;     // the card in the field was deselected: it ignores polling
  std::optional<Target> target_;
  bool field_on_ = false;
  std::uint8_t parameters_ = pn532::kParamAutoAtrRes | pn532::kParamAutoRats;
  std::uint8_t last_rf_status_ = pn532::kStatusOk;
  std::map<std::uint16_t, std::uint8_t> registers_;
  std::map<std::uint8_t, std::size_t> command_counts_;
};

}  // namespace faregate::simulator
