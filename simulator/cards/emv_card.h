#pragma once
// simulator::EmvCard: a virtual EMV contactless card. It parses every command APDU it receives
// (ISO/IEC 7816-4 short cases 1-4: CLA INS P1 P2 [Lc data] [Le]) and answers like a card:
//
//   SELECT by name "2PAY.SYS.DDF01"  -> FCI 6F { 84, A5 { BF0C { 61 { 4F, 50, 87 } ... } } }
//   SELECT by name <AID>             -> FCI 6F { 84 AID, A5 { 50, 87, 5F2D } }; ATC + 1
//   READ RECORD SFI 1 record 1       -> 70 { 57 track 2, 5A PAN, 5F24, 5F34, 9F36 ATC }
//   READ RECORD SFI 1 record 2       -> 70 { 5F25, 5F28, 9F07 }
//   GET RESPONSE                     -> the next part of a chained answer
//
// with the status words a card uses: 6700 wrong length, 6A86 wrong P1/P2, 6A82 file or
// application not found, 6A83 record not found, 6985 no application selected, 6Cxx wrong Le,
// 6D00 instruction not supported, 6E00 class not supported. Everything is built with the
// firmware's BER-TLV encoder. Profiles carry the card's data and the faults it should show.
// Not thread-safe: one reader talks to a card at a time.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "hal/sim/contactless_card.h"

namespace faregate::simulator {

// What is wrong with a card, on purpose.
enum class CardFault {
  kNone,
  kNoPpse,           // SELECT PPSE answers 6A82 (a card without a contactless directory)
  kTruncatedTrack2,  // record 1 holds "57 30" followed by fewer than 48 bytes
  kMissingPan,       // the records hold neither 5A nor 57
};

struct EmvApplication {
  Bytes aid;
  std::string label;          // tag 50
  std::uint8_t priority = 1;  // tag 87 (1 = highest)
};

struct EmvCardProfile {
  std::vector<EmvApplication> applications;  // the PPSE directory, in this order
  std::string pan;                           // 12-19 ASCII digits
  std::optional<std::uint8_t> psn;           // tag 5F34 when set (0-99)
  Bytes expiry_yymmdd;                       // tag 5F24: 3 BCD bytes
  Bytes uid;                                 // 7 bytes
  std::uint16_t first_atc = 1;               // the ATC the first tap reports
  CardFault fault = CardFault::kNone;
  // When non-zero, answers with more data than this come in parts: the first part with SW
  // 61xx, the rest fetched with GET RESPONSE (as T=0 cards and some contactless cards do).
  std::size_t chunk_bytes = 0;
};

class EmvCard final : public hal::sim::ContactlessCard {
 public:
  explicit EmvCard(EmvCardProfile profile);

  // UID from the profile, ATQA 0x0044 (double-size UID), SAK 0x20 (ISO 14443-4), an ATS whose
  // first byte TL is its length.
  hal::CardInfo info() const override;
  Result<Bytes> respond(ByteView command_apdu) override;
  void on_deselect() override;

  const EmvCardProfile& profile() const { return profile_; }
  // The ATC of the last tap (first_atc - 1 before any).
  std::uint16_t atc() const { return atc_; }
  // Command APDUs answered so far, for tests.
  std::size_t commands_seen() const { return commands_seen_; }

 private:
  Bytes answer(ByteView data, std::uint16_t sw, std::optional<std::size_t> le);
  Bytes select(ByteView name, std::optional<std::size_t> le);
  Bytes read_record(std::uint8_t record, std::uint8_t p2, std::optional<std::size_t> le);
  Bytes get_response(std::optional<std::size_t> le);
  Bytes record_one() const;
  Bytes record_two() const;

  EmvCardProfile profile_;
  std::optional<std::size_t> selected_;  // index into profile_.applications
  std::uint16_t atc_ = 0;
  Bytes pending_;  // the rest of a chained answer, for GET RESPONSE
  std::size_t commands_seen_ = 0;
};

}  // namespace faregate::simulator
