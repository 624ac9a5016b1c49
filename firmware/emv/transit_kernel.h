#pragma once
// emv::TransitKernel: reads and authenticates an EMV contactless bank card offline, as a
// transit gate must (no time to go online inside the tap):
//
//   SELECT "2PAY.SYS.DDF01" (PPSE)  -> directory; choose the supported AID by priority (87)
//   SELECT AID                      -> FCI with the PDOL (9F38)
//   GET PROCESSING OPTIONS          -> AIP (82) and AFL (94), format 80 or 77; Visa qVSDC cards
//                                      also return ATC, cryptogram and the fDDA signature here
//   READ RECORD for each AFL entry  -> PAN, expiry, PSN, certificates, CDOL1, ...
//   GENERATE AC (ARQC, CDA asked)   -> only for cards whose AIP offers CDA (Mastercard style)
//
// then offline data authentication (CDA, else fDDA, else SDA; see offline_authentication.h).
// The terminal data (TTQ, amount, currencies, country, date, type, unpredictable number) is
// built into the PDOL and CDOL1 exactly as the card asks (emv::build_dol_data).
//
// Every byte from the card is hostile: all parsing goes through the bounded TLV decoder, a
// malformed card is a read failure with a reason, and nothing a card sends can make the kernel
// crash, loop or allocate without bound (the AFL is capped, chained answers are capped).

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "faregate/v1/tap.pb.h"
#include "firmware/emv/oda/ca_key_table.h"
#include "firmware/emv/oda/certificates.h"
#include "firmware/emv/sensitive_pan.h"
#include "hal/nfc_reader.h"

namespace faregate::emv {

struct SupportedAid {
  Bytes aid;
  faregate::v1::CardScheme scheme = faregate::v1::CARD_SCHEME_UNSPECIFIED;
};

// Visa credit/debit A0000000031010, Mastercard A0000000041010, Maestro A0000000043060.
std::vector<SupportedAid> default_supported_aids();

// What the validator tells every card: fixed per validator (from its configuration).
struct TerminalConfig {
  // Terminal transaction qualifiers (9F66): byte 1 0x20 qVSDC supported | 0x08 offline-only
  // reader; byte 4 0x80 fDDA version 01 supported. No online cryptogram is requested: the gate
  // decides offline and the back office authorizes later.
  std::array<std::uint8_t, 4> ttq{0x28, 0x00, 0x00, 0x80};
  std::uint64_t amount_minor = 0;      // 9F02, amount authorised (n12); transit taps carry 0
  std::uint16_t currency_code = 978;   // 5F2A, ISO 4217 numeric (978 = EUR)
  std::uint16_t country_code = 250;    // 9F1A, ISO 3166-1 numeric (250 = France)
  std::uint8_t transaction_type = 0;   // 9C, 00 = purchase of goods and services
  std::uint8_t terminal_type = 0x26;   // 9F35, unattended, offline only, operated by merchant
  std::vector<SupportedAid> supported_aids = default_supported_aids();
  std::chrono::milliseconds apdu_timeout{100};  // each APDU
};

// What changes with every tap.
struct TransactionInput {
  std::chrono::year_month_day date{};               // 9A, and the ODA expiry checks
  std::array<std::uint8_t, 4> unpredictable_number{};  // 9F37, from the validator's CTR_DRBG
};

enum class OdaMethod { kNone, kSda, kFdda, kCda };
std::string_view to_string(OdaMethod method);  // "none", "sda", "fdda", "cda"

struct CardData {
  faregate::v1::CardScheme scheme = faregate::v1::CARD_SCHEME_UNSPECIFIED;
  SensitivePan pan;
  std::uint8_t psn = 0;                  // PAN sequence number (5F34), 0 when absent
  std::chrono::year_month_day expiry{};  // 5F24: the card is valid through this day
  std::optional<std::uint16_t> atc;      // 9F36
  Bytes aid;                             // the application selected
  // For the back office's later authorization (sealed with the PAN, never stored in clear).
  Bytes application_cryptogram;                    // 9F26
  std::optional<std::uint8_t> cryptogram_information;  // 9F27
  Bytes issuer_application_data;                   // 9F10
  Bytes payment_account_reference;                 // 9F24
  std::array<std::uint8_t, 4> unpredictable_number{};
  // Offline data authentication: the method used, and why it failed if it did. A card that
  // fails ODA is still a card that was read (it has a token); the decision denies it.
  OdaMethod oda = OdaMethod::kNone;
  std::optional<oda::OdaFailure> oda_failure;
  std::uint32_t apdu_count = 0;  // APDUs exchanged, GET RESPONSE included
};

// Who is to blame for a failed read; the tap pipeline acts differently on each.
enum class ReadFailure {
  kCard,      // the card answered but what it said is unusable: deny the tap with `reason`
  kCardLeft,  // the card left the field before it was read: nothing to decide, tap again
  kReader,    // the reader failed (unplugged, internal error): not the card's fault
};

// Why a card could not be read. `reason` is a stable snake_case code that goes into the tap
// record's reason field (proto/faregate/v1/tap.proto), so the codes are part of the protocol:
//   ppse_not_found            SELECT PPSE not answered with 9000
//   no_supported_application  the PPSE lists no supported AID
//   application_blocked       SELECT AID answered 6283 (the issuer blocked the application)
//   application_not_selected  SELECT of the chosen AID refused otherwise, or a bad FCI
//   malformed_tlv             a response is not well-formed BER-TLV (lengths, nesting, tags)
//   gpo_refused               GET PROCESSING OPTIONS not answered with 9000
//   gpo_response_invalid      the GPO answer lacks AIP / AFL or has the wrong shape
//   afl_invalid               the AFL is malformed or lists too many records
//   record_missing            a record the AFL lists answers 6A83
//   record_not_readable       READ RECORD answered with another error, or not template 70
//   duplicate_tag             a data object the kernel uses appears twice
//   pan_missing, pan_invalid, pan_mismatch, track2_invalid, expiry_missing, expiry_invalid,
//   psn_invalid               the card's identity data is missing or malformed
//   generate_ac_refused       GENERATE AC not answered with 9000
//   card_timeout              the card stopped answering
//   card_protocol_error       the card broke ISO 14443-4 / 7816-4 framing
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

class TransitKernel {
 public:
  // `ca_keys` must outlive the kernel.
  TransitKernel(TerminalConfig config, const oda::CaKeyTable& ca_keys)
      : config_(std::move(config)), ca_keys_(ca_keys) {}

  // Requires: `reader` has an activated card (wait_for_card returned one). Does not release it.
  std::expected<CardData, CardReadError> read(hal::NfcReader& reader,
                                              const TransactionInput& input) const;

  const TerminalConfig& config() const { return config_; }

 private:
  TerminalConfig config_;
  const oda::CaKeyTable& ca_keys_;
};

}  // namespace faregate::emv
