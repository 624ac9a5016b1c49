#pragma once
// simulator::EmvCard: a virtual EMV contactless bank card that runs a transit transaction the
// way real cards do, with real RSA signatures from the simulator's PKI (simulator_pki.h). It
// parses every command APDU (ISO/IEC 7816-4 short cases 1-4) and answers:
//
//   SELECT "2PAY.SYS.DDF01"   -> FCI 6F { 84, A5 { BF0C { 61 { 4F, 50, 87 } ... } } }
//   SELECT <AID>              -> FCI 6F { 84 AID, A5 { 50, 87, 5F2D, 9F38 PDOL (qVSDC cards) } }
//   GET PROCESSING OPTIONS    -> ATC + 1; qVSDC (fDDA, SDA): format 77 { 82 AIP, 94 AFL, 9F36,
//                                9F26, 9F27, 9F10, and for fDDA 9F4B SDAD + 9F69 };
//                                CDA cards: format 80 AIP || AFL
//   READ RECORD SFI 1 rec 1   -> 70 { 57, 5A, 5F24, 5F34, 5F25, 5F28, 9F07, 9F4A, [8C CDOL1] }
//   READ RECORD SFI 2 rec 1   -> 70 { 8F, 90, 9F32, [92] }          (issuer certificate)
//   READ RECORD SFI 2 rec 2   -> 70 { 9F46, 9F47, [9F48] } or { 93 } (ICC certificate or SSAD)
//   GENERATE AC (CDA cards)   -> 77 { 9F27, 9F36, 9F10, 9F4B SDAD with the transaction hash }
//   GET RESPONSE              -> the next part of a chained answer
//
// with the status words a card uses (6700, 6A86, 6A82, 6A83, 6985, 6Cxx, 6D00, 6E00, 6283).
// The application cryptogram is an HMAC over ATC, unpredictable number and amount under a key
// derived from the PAN: it stands in for the issuer's secret-key cryptogram, which only the
// issuer can check anyway. Not thread-safe: one reader talks to a card at a time.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/crypto.h"
#include "hal/sim/contactless_card.h"
#include "simulator/cards/issuer/certificate_builder.h"
#include "simulator/cards/issuer/rsa_key_pair.h"

namespace faregate::simulator {

// What is wrong with a card, on purpose.
enum class CardFault {
  kNone,
  kNoPpse,           // SELECT PPSE answers 6A82 (a card without a contactless directory)
  kTruncatedTrack2,  // record 1 holds "57 30" followed by fewer than 48 bytes
  kMissingPan,       // the records hold neither 5A nor 57
  kMissingRecord,    // the AFL lists a record the card does not have (6A83)
  kTamperedSdad,     // the SDAD is signed over other terminal data than the validator sent
  kBlocked,          // SELECT AID answers 6283: the issuer blocked the application
};

// How the card proves it is genuine offline.
enum class OdaKind {
  kFdda,  // Visa qVSDC: SDAD in the GPO answer over UN, amount, currency, 9F69
  kCda,   // Mastercard / Maestro: SDAD in the GENERATE AC answer
  kSda,   // static signature only (older cards)
};

struct EmvApplication {
  Bytes aid;
  std::string label;          // tag 50
  std::uint8_t priority = 1;  // tag 87 (1 = highest)
};

// What the issuer personalized into the card for ODA (see card_personalization.h).
struct CardOdaData {
  std::uint8_t ca_index = 0;                  // 8F
  sim::issuer::IssuerCertificate issuer;      // 90, 92, 9F32
  sim::issuer::IccCertificate icc;            // 9F46, 9F48, 9F47 (fDDA, CDA)
  Bytes ssad;                                 // 93 (SDA)
  const sim::issuer::RsaKeyPair* icc_key = nullptr;  // in the process PKI (fDDA, CDA)
};

struct EmvCardProfile {
  std::vector<EmvApplication> applications;  // the PPSE directory, in this order
  std::string pan;                           // 12-19 ASCII digits
  std::optional<std::uint8_t> psn;           // tag 5F34 when set (0-99)
  Bytes expiry_yymmdd;                       // tag 5F24: 3 BCD bytes
  Bytes uid;                                 // 7 bytes
  std::uint16_t first_atc = 1;               // the ATC the first tap reports
  CardFault fault = CardFault::kNone;
  OdaKind oda = OdaKind::kFdda;
  std::shared_ptr<const CardOdaData> oda_data;  // none: the card has no ODA data at all
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

  // The card's layout, shared with personalization (the ICC certificate's hash covers the
  // static data to be authenticated: record SFI 1 / 1 and the AIP).
  static Bytes aip(const EmvCardProfile& profile);
  static Bytes record_sfi1(const EmvCardProfile& profile);
  static Bytes static_data_to_authenticate(const EmvCardProfile& profile);

 private:
  Bytes answer(ByteView data, std::uint16_t sw, std::optional<std::size_t> le);
  Bytes select(ByteView name, std::optional<std::size_t> le);
  Bytes get_processing_options(ByteView data, std::optional<std::size_t> le);
  Bytes read_record(std::uint8_t record, std::uint8_t p2, std::optional<std::size_t> le);
  Bytes generate_ac(std::uint8_t p1, ByteView data, std::optional<std::size_t> le);
  Bytes get_response(std::optional<std::size_t> le);
  Bytes afl() const;
  Bytes record_sfi2(std::uint8_t record) const;
  Bytes cryptogram(ByteView unpredictable_number, ByteView amount) const;
  Bytes dynamic_number();

  EmvCardProfile profile_;
  std::optional<std::size_t> selected_;  // index into profile_.applications
  bool processing_ = false;              // GPO answered in this session
  Bytes pdol_data_;                      // as received with GPO (for the CDA hash)
  std::uint16_t atc_ = 0;
  Bytes pending_;  // the rest of a chained answer, for GET RESPONSE
  std::size_t commands_seen_ = 0;
  crypto::Drbg drbg_;  // the card's own randomness (dynamic numbers, RSA blinding)
};

}  // namespace faregate::simulator
