#pragma once
// emv::CardReader: reads what the validator needs from an EMV contactless card. This is the
// foundation's simple read, to be replaced by the EMV transit kernel (GPO, AFL, ODA):
//
//   SELECT "2PAY.SYS.DDF01" (PPSE)   -> FCI 6F > A5 > BF0C > 61 { 4F AID, 50 label, 87 priority }
//   choose the supported AID with the best priority, SELECT it
//   READ RECORD SFI 1 record 1 (and record 2 when record 1 has no PAN)
//   -> PAN 5A, PSN 5F34, expiry 5F24, ATC 9F36, track 2 equivalent 57 (checked against 5A)
//
// Every byte from the card is treated as hostile: all parsing goes through the bounded TLV
// decoder and a malformed card is a read failure with a reason, never a crash.

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "faregate/v1/tap.pb.h"
#include "firmware/emv/sensitive_pan.h"
#include "hal/nfc_reader.h"

namespace faregate::emv {

struct SupportedAid {
  Bytes aid;
  faregate::v1::CardScheme scheme = faregate::v1::CARD_SCHEME_UNSPECIFIED;
};

// Visa credit/debit A0000000031010, Mastercard A0000000041010, Maestro A0000000043060.
std::vector<SupportedAid> default_supported_aids();

struct CardData {
  faregate::v1::CardScheme scheme = faregate::v1::CARD_SCHEME_UNSPECIFIED;
  SensitivePan pan;
  std::uint8_t psn = 0;                    // PAN sequence number (5F34), 0 when absent
  std::chrono::year_month_day expiry{};    // 5F24: the card is valid through this day
  std::optional<std::uint16_t> atc;        // 9F36 when the card gave one
  Bytes aid;                               // the application selected
  std::uint32_t apdu_count = 0;            // APDUs exchanged, GET RESPONSE included
};

// Who is to blame for a failed read; the tap pipeline acts differently on each.
enum class ReadFailure {
  kCard,      // the card answered but what it said is unusable: deny the tap with `reason`
  kCardLeft,  // the card left the field before it was read: nothing to decide, tap again
  kReader,    // the reader failed (unplugged, internal error): not the card's fault
};

// Why a card could not be read. `reason` is a stable snake_case code that goes into the tap
// record's reason field (proto/faregate/v1/tap.proto), so the codes below are part of the
// protocol:
//   ppse_not_found            SELECT PPSE not answered with 9000
//   no_supported_application  the PPSE lists no supported AID
//   application_not_selected  SELECT of the chosen AID not answered with 9000, or a bad FCI
//   malformed_tlv             a response is not well-formed BER-TLV (lengths, nesting, tags)
//   record_not_readable       READ RECORD answered with an error other than 6A83
//   pan_missing               no tag 5A in the records read
//   pan_invalid               5A is not 12-19 BCD digits with F padding, or fails the Luhn check
//   pan_mismatch              the PAN in track 2 equivalent data (57) differs from 5A
//   track2_invalid            57 is not BCD PAN, separator D, YYMM, ...
//   expiry_missing            no tag 5F24
//   expiry_invalid            5F24 is not a real YYMMDD date
//   psn_invalid               5F34 is not one BCD byte
//   card_timeout              the card stopped answering
//   card_protocol_error       the card broke ISO 14443-4 / 7816-4 framing (bad R-APDU size,
//                             endless 61xx chain)
//   card_removed              the card left the field (kind kCardLeft)
//   reader_error              the reader failed (kind kReader)
struct CardReadError {
  ReadFailure kind = ReadFailure::kCard;
  std::string reason;
  std::string detail;  // for logs; never contains card numbers
  std::uint32_t apdu_count = 0;
  // For kCardLeft and kReader: the transport error's code (kCardRemoved, kUnavailable, ...).
  std::optional<ErrorCode> cause;
};

class CardReader {
 public:
  // `supported`: the applications this validator accepts, each with its scheme.
  // `apdu_timeout`: the time a card has to answer each APDU.
  explicit CardReader(std::vector<SupportedAid> supported = default_supported_aids(),
                      std::chrono::milliseconds apdu_timeout = std::chrono::milliseconds(100))
      : supported_(std::move(supported)), apdu_timeout_(apdu_timeout) {}

  // Requires: `reader` has an activated card (wait_for_card returned one). Does not release it.
  std::expected<CardData, CardReadError> read(hal::NfcReader& reader) const;

 private:
  std::vector<SupportedAid> supported_;
  std::chrono::milliseconds apdu_timeout_;
};

}  // namespace faregate::emv
