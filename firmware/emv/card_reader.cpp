#include "firmware/emv/card_reader.h"

#include <algorithm>

#include "firmware/emv/apdu.h"
#include "firmware/emv/tlv.h"

namespace faregate::emv {

namespace {

constexpr std::string_view kPpseName = "2PAY.SYS.DDF01";
constexpr std::uint8_t kRecordSfi = 1;
// An entry without a priority (87 absent or its low nibble 0) ranks after every numbered one.
constexpr int kNoPriority = 16;

using Failed = std::unexpected<CardReadError>;

class Failures {
 public:
  explicit Failures(const ApduChannel& channel) : channel_(channel) {}

  Failed card(std::string reason, std::string detail) const {
    return Failed(CardReadError{ReadFailure::kCard, std::move(reason), std::move(detail),
                                channel_.count(), std::nullopt});
  }

  // A transport error during an exchange. A card that left is nobody's fault and leaves no
  // trace; a card that went silent or broke the framing is a bad read of this card; anything
  // else is the reader's own failure.
  Failed transport(const Error& e, std::string_view during) const {
    const std::string detail = std::string(during) + ": " + e.describe();
    switch (e.code) {
      case ErrorCode::kCardRemoved:
        return Failed(CardReadError{ReadFailure::kCardLeft, "card_removed", detail,
                                    channel_.count(), e.code});
      case ErrorCode::kTimeout:
        return card("card_timeout", detail);
      case ErrorCode::kProtocol:
        return card("card_protocol_error", detail);
      default:
        return Failed(CardReadError{ReadFailure::kReader, "reader_error", detail,
                                    channel_.count(), e.code});
    }
  }

 private:
  const ApduChannel& channel_;
};

// The direct child of `node` with `tag`, or nullptr (unlike Tlv::find, does not descend).
const Tlv* child(const Tlv& node, std::uint32_t tag) {
  for (const Tlv& c : node.children) {
    if (c.tag == tag) return &c;
  }
  return nullptr;
}

const Tlv* top(const std::vector<Tlv>& nodes, std::uint32_t tag) {
  for (const Tlv& n : nodes) {
    if (n.tag == tag) return &n;
  }
  return nullptr;
}

int bcd_byte(std::uint8_t b) {
  if ((b >> 4) > 9 || (b & 0x0F) > 9) return -1;
  return (b >> 4) * 10 + (b & 0x0F);
}

// PAN, format 'cn': BCD digits, left-aligned, padded with F nibbles only at the end.
std::optional<SensitivePan> decode_pan(ByteView value) {
  if (value.size() > (SensitivePan::kMaxDigits + 1) / 2) return std::nullopt;
  SensitivePan pan;
  bool padding = false;
  for (std::uint8_t b : value) {
    for (int nibble : {b >> 4, b & 0x0F}) {
      if (nibble == 0x0F) {
        padding = true;
      } else if (padding || !pan.push_digit(nibble)) {
        return std::nullopt;  // a digit after padding, a non-digit nibble, or too many digits
      }
    }
  }
  if (pan.size() < SensitivePan::kMinDigits || !pan.luhn_valid()) return std::nullopt;
  return pan;
}

// Track 2 equivalent data (57), format 'b': PAN digits, separator D, expiry YYMM, service code,
// discretionary digits, one F nibble of padding when the count is odd (EMV Book 3, Annex A).
// Returns the PAN, or nullopt if the structure is wrong.
std::optional<SensitivePan> track2_pan(ByteView value) {
  if (value.size() > 19) return std::nullopt;
  SensitivePan pan;
  bool separator = false;
  std::size_t after_separator = 0;
  const std::size_t nibbles = value.size() * 2;
  for (std::size_t i = 0; i < nibbles; ++i) {
    const int nibble = i % 2 == 0 ? value[i / 2] >> 4 : value[i / 2] & 0x0F;
    if (!separator) {
      if (nibble == 0x0D) {
        separator = true;
      } else if (!pan.push_digit(nibble)) {
        return std::nullopt;
      }
    } else if (nibble == 0x0F && i == nibbles - 1) {
      break;  // padding
    } else if (nibble > 9) {
      return std::nullopt;
    } else {
      ++after_separator;
    }
  }
  // YYMM and the three-digit service code must follow the separator.
  if (!separator || after_separator < 7 || pan.size() < SensitivePan::kMinDigits) {
    return std::nullopt;
  }
  return pan;
}

// Expiry, format 'n6' YYMMDD. Years 00-49 are 20YY, 50-99 19YY (EMV Book 4, 6.7.3).
std::optional<std::chrono::year_month_day> decode_expiry(ByteView value) {
  if (value.size() != 3) return std::nullopt;
  const int yy = bcd_byte(value[0]);
  const int mm = bcd_byte(value[1]);
  const int dd = bcd_byte(value[2]);
  if (yy < 0 || mm < 0 || dd < 0) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(yy < 50 ? 2000 + yy : 1900 + yy),
                                         std::chrono::month(static_cast<unsigned>(mm)),
                                         std::chrono::day(static_cast<unsigned>(dd))};
  if (!date.ok()) return std::nullopt;
  return date;
}

}  // namespace

std::vector<SupportedAid> default_supported_aids() {
  return {{Bytes{0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10}, faregate::v1::CARD_SCHEME_VISA},
          {Bytes{0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10}, faregate::v1::CARD_SCHEME_MASTERCARD},
          {Bytes{0xA0, 0x00, 0x00, 0x00, 0x04, 0x30, 0x60}, faregate::v1::CARD_SCHEME_MAESTRO}};
}

std::expected<CardData, CardReadError> CardReader::read(hal::NfcReader& reader) const {
  ApduChannel channel(reader, apdu_timeout_);
  const Failures fail(channel);

  // 1. PPSE: the directory of the card's contactless applications.
  auto select_ppse = select_by_name(as_bytes(kPpseName));
  if (!select_ppse) return fail.transport(select_ppse.error(), "building SELECT PPSE");
  auto ppse = channel.exchange(*select_ppse);
  if (!ppse) return fail.transport(ppse.error(), "SELECT PPSE");
  if (!ppse->ok()) return fail.card("ppse_not_found", "SELECT PPSE answered " + sw_hex(ppse->sw));
  auto fci = parse_tlv(ppse->data);
  if (!fci) return fail.card("malformed_tlv", "PPSE FCI: " + fci.error().message);
  const Tlv* fci_template = top(*fci, 0x6F);
  if (!fci_template) return fail.card("malformed_tlv", "PPSE answer has no FCI template 6F");

  // 2. Among the directory entries (61 in BF0C in A5), the supported AID with the best
  // priority: low nibble of 87, 1 is best, 0 or absent ranks last; ties go to the first listed.
  // Bit 8 of 87 (cardholder confirmation) is ignored: a gate has nobody to confirm with, and
  // contactless entry point selection ignores it too (EMV Book B).
  const SupportedAid* chosen = nullptr;
  int best_priority = kNoPriority + 1;
  const Tlv* a5 = child(*fci_template, 0xA5);
  const Tlv* directory = a5 ? child(*a5, 0xBF0C) : nullptr;
  if (directory) {
    for (const Tlv& entry : directory->children) {
      if (entry.tag != 0x61) continue;
      const Tlv* aid = child(entry, 0x4F);
      if (!aid) continue;
      const Tlv* prio = child(entry, 0x87);
      int priority = kNoPriority;
      if (prio && prio->value.size() == 1 && (prio->value[0] & 0x0F) != 0) {
        priority = prio->value[0] & 0x0F;
      }
      for (const SupportedAid& s : supported_) {
        if (std::ranges::equal(s.aid, aid->value) && priority < best_priority) {
          chosen = &s;
          best_priority = priority;
        }
      }
    }
  }
  if (!chosen) {
    return fail.card("no_supported_application",
                     directory ? "no supported AID in the PPSE directory"
                               : "PPSE FCI has no directory (A5 > BF0C)");
  }

  // 3. SELECT the application; its FCI must at least be well-formed.
  auto select_aid = select_by_name(chosen->aid);
  if (!select_aid) return fail.transport(select_aid.error(), "building SELECT AID");
  auto app = channel.exchange(*select_aid);
  if (!app) return fail.transport(app.error(), "SELECT AID");
  if (!app->ok()) {
    return fail.card("application_not_selected", "SELECT AID answered " + sw_hex(app->sw));
  }
  auto app_fci = parse_tlv(app->data);
  if (!app_fci) return fail.card("malformed_tlv", "application FCI: " + app_fci.error().message);
  if (!top(*app_fci, 0x6F)) {
    return fail.card("application_not_selected", "application answer has no FCI template 6F");
  }

  // 4. Records of SFI 1: record 1, and record 2 only when record 1 has no PAN. The raw record
  // buffers are kept so that the Tlv views into them stay valid until the end.
  CardData card;
  card.scheme = chosen->scheme;
  card.aid = chosen->aid;
  const Tlv* pan_tlv = nullptr;
  const Tlv* expiry_tlv = nullptr;
  const Tlv* psn_tlv = nullptr;
  const Tlv* atc_tlv = nullptr;
  const Tlv* track2_tlv = nullptr;
  std::vector<Bytes> raw_records;
  std::vector<std::vector<Tlv>> parsed_records;
  raw_records.reserve(2);
  parsed_records.reserve(2);
  for (std::uint8_t record = 1; record <= 2 && pan_tlv == nullptr; ++record) {
    auto command = read_record(kRecordSfi, record);
    if (!command) return fail.transport(command.error(), "building READ RECORD");
    auto r = channel.exchange(*command);
    if (!r) return fail.transport(r.error(), "READ RECORD " + std::to_string(record));
    if (r->sw == kSwRecordNotFound) break;
    if (!r->ok()) {
      return fail.card("record_not_readable",
                       "READ RECORD " + std::to_string(record) + " answered " + sw_hex(r->sw));
    }
    raw_records.push_back(std::move(r->data));
    auto tlv = parse_tlv(raw_records.back());
    if (!tlv) {
      return fail.card("malformed_tlv",
                       "record " + std::to_string(record) + ": " + tlv.error().message);
    }
    parsed_records.push_back(std::move(*tlv));
    // Records of SFI 1 to 10 are wrapped in template 70 (EMV Book 3, 7.2); data outside it is
    // not the card's record data.
    const Tlv* body = top(parsed_records.back(), 0x70);
    if (!body) {
      return fail.card("malformed_tlv", "record " + std::to_string(record) + " is not template 70");
    }
    if (!pan_tlv) pan_tlv = body->find(0x5A);
    if (!expiry_tlv) expiry_tlv = body->find(0x5F24);
    if (!psn_tlv) psn_tlv = body->find(0x5F34);
    if (!atc_tlv) atc_tlv = body->find(0x9F36);
    if (!track2_tlv) track2_tlv = body->find(0x57);
  }

  if (!pan_tlv) return fail.card("pan_missing", "no tag 5A in SFI 1 records 1-2");
  auto pan = decode_pan(pan_tlv->value);
  if (!pan) {
    return fail.card("pan_invalid", "tag 5A of " + std::to_string(pan_tlv->value.size()) +
                                        " bytes is not a 12-19 digit PAN with a valid check digit");
  }
  if (track2_tlv) {
    auto t2 = track2_pan(track2_tlv->value);
    if (!t2) return fail.card("track2_invalid", "tag 57 is not track 2 equivalent data");
    if (t2->digits() != pan->digits()) {
      return fail.card("pan_mismatch", "the PAN in tag 57 differs from tag 5A");
    }
  }
  card.pan = std::move(*pan);

  if (!expiry_tlv) return fail.card("expiry_missing", "no tag 5F24 in the records read");
  auto expiry = decode_expiry(expiry_tlv->value);
  if (!expiry) return fail.card("expiry_invalid", "tag 5F24 is not a YYMMDD date");
  card.expiry = *expiry;

  if (psn_tlv) {
    const int psn = psn_tlv->value.size() == 1 ? bcd_byte(psn_tlv->value[0]) : -1;
    if (psn < 0) return fail.card("psn_invalid", "tag 5F34 is not one BCD byte");
    card.psn = static_cast<std::uint8_t>(psn);
  }
  // The ATC is informational here (no cryptogram is checked yet): a malformed one is dropped
  // rather than refusing the rider.
  if (atc_tlv && atc_tlv->value.size() == 2) {
    card.atc = static_cast<std::uint16_t>(atc_tlv->value[0] << 8 | atc_tlv->value[1]);
  }
  card.apdu_count = channel.count();
  return card;
}

}  // namespace faregate::emv
