#include "firmware/emv/transit_kernel.h"

#include <algorithm>
#include <deque>
#include <map>

#include "firmware/emv/afl.h"
#include "firmware/emv/apdu.h"
#include "firmware/emv/card_fields.h"
#include "firmware/emv/offline_authentication.h"
#include "firmware/emv/tlv.h"

namespace faregate::emv {

namespace {

constexpr std::string_view kPpseName = "2PAY.SYS.DDF01";
// An entry without a priority (87 absent or its low nibble 0) ranks after every numbered one.
constexpr int kNoPriority = 16;

// AIP (82) byte 1 (EMV Book 3, Annex C1).
constexpr std::uint8_t kAipSda = 0x40;
constexpr std::uint8_t kAipDda = 0x20;
constexpr std::uint8_t kAipCda = 0x01;

// The data objects the kernel keeps; each may appear once across the GPO answer and the
// records (EMV Book 3, 10.2: a second occurrence ends the transaction).
constexpr std::uint32_t kKeptTags[] = {
    0x5A,   0x57,   0x5F24, 0x5F34, 0x9F36, 0x9F26, 0x9F27, 0x9F10, 0x9F24, 0x8F, 0x90,
    0x92,   0x9F32, 0x9F46, 0x9F47, 0x9F48, 0x93,   0x9F4B, 0x9F4A, 0x9F69, 0x8C};

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

// n-format BCD of `value` in `bytes` bytes, right-aligned (amounts, currency and country codes).
Bytes numeric(std::uint64_t value, std::size_t bytes) {
  Bytes out(bytes, 0);
  for (std::size_t i = bytes; i-- > 0;) {
    out[i] = static_cast<std::uint8_t>(value % 10 | (value / 10 % 10) << 4);
    value /= 100;
  }
  return out;
}

Bytes date_yymmdd(const std::chrono::year_month_day& d) {
  const unsigned yy = static_cast<unsigned>(static_cast<int>(d.year()) % 100);
  return {numeric(yy, 1)[0], numeric(static_cast<unsigned>(d.month()), 1)[0],
          numeric(static_cast<unsigned>(d.day()), 1)[0]};
}

// The terminal's values for the data objects a PDOL or CDOL1 may ask for.
std::map<std::uint32_t, Bytes> terminal_values(const TerminalConfig& config,
                                               const TransactionInput& input) {
  return {
      {0x9F66, Bytes(config.ttq.begin(), config.ttq.end())},
      {0x9F02, numeric(config.amount_minor, 6)},
      {0x9F03, numeric(0, 6)},
      {0x9F1A, numeric(config.country_code, 2)},
      {0x5F2A, numeric(config.currency_code, 2)},
      {0x95, Bytes(5, 0x00)},  // TVR: nothing failed before the card is asked
      {0x9A, date_yymmdd(input.date)},
      {0x9C, Bytes{config.transaction_type}},
      {0x9F35, Bytes{config.terminal_type}},
      {0x9F37, Bytes(input.unpredictable_number.begin(), input.unpredictable_number.end())},
  };
}

// Primitive data objects from the GPO answer and the records, first occurrence kept; a kept
// tag seen twice is reported.
class CardObjects {
 public:
  // Returns the duplicated tag, if any.
  std::optional<std::uint32_t> add_all(const Tlv& node) {
    for (const Tlv& c : node.children) {
      if (c.constructed()) {
        if (auto dup = add_all(c)) return dup;
        continue;
      }
      if (objects_.contains(c.tag)) {
        if (std::ranges::find(kKeptTags, c.tag) != std::end(kKeptTags)) return c.tag;
        continue;
      }
      objects_.emplace(c.tag, c.value);
    }
    return std::nullopt;
  }
  ByteView get(std::uint32_t tag) const {
    const auto it = objects_.find(tag);
    return it == objects_.end() ? ByteView{} : it->second;
  }
  bool has(std::uint32_t tag) const { return objects_.contains(tag); }

 private:
  std::map<std::uint32_t, ByteView> objects_;
};

std::string tag_hex(std::uint32_t tag) { return to_hex(encode_tag(tag)); }

}  // namespace

std::vector<SupportedAid> default_supported_aids() {
  return {{Bytes{0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10}, faregate::v1::CARD_SCHEME_VISA},
          {Bytes{0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10}, faregate::v1::CARD_SCHEME_MASTERCARD},
          {Bytes{0xA0, 0x00, 0x00, 0x00, 0x04, 0x30, 0x60}, faregate::v1::CARD_SCHEME_MAESTRO}};
}

std::string_view to_string(OdaMethod method) {
  switch (method) {
    case OdaMethod::kNone: return "none";
    case OdaMethod::kSda: return "sda";
    case OdaMethod::kFdda: return "fdda";
    case OdaMethod::kCda: return "cda";
  }
  return "none";
}

std::expected<CardData, CardReadError> TransitKernel::read(hal::NfcReader& reader,
                                                           const TransactionInput& input) const {
  ApduChannel channel(reader, config_.apdu_timeout);
  const Failures fail(channel);
  // Every answer stays alive until the end: the parsed objects are views into these buffers
  // (a deque never moves its elements).
  std::deque<ResponseApdu> answers;
  std::deque<std::vector<Tlv>> parsed;
  auto exchange = [&](const Result<Bytes>& command, const std::string& what)
      -> std::expected<const ResponseApdu*, CardReadError> {
    if (!command) return fail.transport(command.error(), "building " + what);
    auto r = channel.exchange(*command);
    if (!r) return fail.transport(r.error(), what);
    answers.push_back(std::move(*r));
    return &answers.back();
  };
  auto parse = [&](const ResponseApdu& r, const std::string& what)
      -> std::expected<const std::vector<Tlv>*, CardReadError> {
    auto tlv = parse_tlv(r.data);
    if (!tlv) return fail.card("malformed_tlv", what + ": " + tlv.error().message);
    parsed.push_back(std::move(*tlv));
    return &parsed.back();
  };

  // 1. PPSE: the directory of the card's contactless applications.
  auto ppse = exchange(select_by_name(as_bytes(kPpseName)), "SELECT PPSE");
  if (!ppse) return std::unexpected(ppse.error());
  if (!(*ppse)->ok()) {
    return fail.card("ppse_not_found", "SELECT PPSE answered " + sw_hex((*ppse)->sw));
  }
  auto fci = parse(**ppse, "PPSE FCI");
  if (!fci) return std::unexpected(fci.error());
  const Tlv* fci_template = top(**fci, 0x6F);
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
      for (const SupportedAid& s : config_.supported_aids) {
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
  if (chosen->aid.size() < oda::kRidBytes) {
    return fail.card("application_not_selected", "configured AID shorter than a RID");
  }

  // 3. SELECT the application; its FCI may carry the PDOL (9F38).
  auto app = exchange(select_by_name(chosen->aid), "SELECT AID");
  if (!app) return std::unexpected(app.error());
  if ((*app)->sw == kSwApplicationBlocked) {
    return fail.card("application_blocked", "SELECT AID answered 6283");
  }
  if (!(*app)->ok()) {
    return fail.card("application_not_selected", "SELECT AID answered " + sw_hex((*app)->sw));
  }
  auto app_fci = parse(**app, "application FCI");
  if (!app_fci) return std::unexpected(app_fci.error());
  const Tlv* app_template = top(**app_fci, 0x6F);
  if (!app_template) {
    return fail.card("application_not_selected", "application answer has no FCI template 6F");
  }
  const Tlv* pdol_tlv = app_template->find(0x9F38);

  // 4. GET PROCESSING OPTIONS with the PDOL data the card asked for.
  const auto values = terminal_values(config_, input);
  Bytes pdol_data;
  if (pdol_tlv) {
    auto pdol = parse_dol(pdol_tlv->value);
    if (!pdol) return fail.card("malformed_tlv", "PDOL: " + pdol.error().message);
    pdol_data = build_dol_data(*pdol, values);
    if (pdol_data.size() > 252) return fail.card("malformed_tlv", "PDOL asks for too much data");
  }
  auto gpo = exchange(get_processing_options(pdol_data), "GET PROCESSING OPTIONS");
  if (!gpo) return std::unexpected(gpo.error());
  if (!(*gpo)->ok()) {
    return fail.card("gpo_refused", "GET PROCESSING OPTIONS answered " + sw_hex((*gpo)->sw));
  }
  auto gpo_tlv = parse(**gpo, "GPO answer");
  if (!gpo_tlv) return std::unexpected(gpo_tlv.error());
  CardObjects objects;
  ByteView aip;
  ByteView afl;
  if (const Tlv* format1 = top(**gpo_tlv, 0x80)) {
    // Format 1: AIP (2 bytes) then the AFL, without tags.
    if (format1->value.size() < 2 + 4) {
      return fail.card("gpo_response_invalid", "format 80 answer too short for AIP and AFL");
    }
    aip = format1->value.first(2);
    afl = format1->value.subspan(2);
  } else if (const Tlv* format2 = top(**gpo_tlv, 0x77)) {
    if (auto dup = objects.add_all(*format2)) {
      return fail.card("duplicate_tag", "GPO answer repeats " + tag_hex(*dup));
    }
    const Tlv* aip_tlv = child(*format2, 0x82);
    const Tlv* afl_tlv = child(*format2, 0x94);
    if (!aip_tlv || aip_tlv->value.size() != 2 || !afl_tlv) {
      return fail.card("gpo_response_invalid", "format 77 answer lacks AIP 82 or AFL 94");
    }
    aip = aip_tlv->value;
    afl = afl_tlv->value;
  } else {
    return fail.card("gpo_response_invalid", "GPO answer is neither template 80 nor 77");
  }
  auto afl_entries = parse_afl(afl);
  if (!afl_entries) return fail.card("afl_invalid", afl_entries.error().message);

  // 5. READ RECORD for every record the AFL lists; those it marks for ODA make up the static
  // data to be authenticated (Book 3, 10.3: the value of template 70 for SFI 1-10, the whole
  // record for SFI 11-30).
  Bytes static_data;
  for (const AflEntry& e : *afl_entries) {
    for (unsigned record = e.first_record; record <= e.last_record; ++record) {
      const std::string what =
          "READ RECORD SFI " + std::to_string(e.sfi) + " record " + std::to_string(record);
      auto r = exchange(read_record(e.sfi, static_cast<std::uint8_t>(record)), what);
      if (!r) return std::unexpected(r.error());
      if ((*r)->sw == kSwRecordNotFound) return fail.card("record_missing", what + ": 6A83");
      if (!(*r)->ok()) return fail.card("record_not_readable", what + ": " + sw_hex((*r)->sw));
      auto tlv = parse(**r, what);
      if (!tlv) return std::unexpected(tlv.error());
      const Tlv* body = top(**tlv, 0x70);
      if (!body) return fail.card("record_not_readable", what + " is not template 70");
      if (auto dup = objects.add_all(*body)) {
        return fail.card("duplicate_tag", what + " repeats " + tag_hex(*dup));
      }
      if (record < e.first_record + e.oda_records) {
        const ByteView part = e.sfi <= 10 ? body->value : ByteView((*r)->data);
        static_data.insert(static_data.end(), part.begin(), part.end());
      }
    }
  }

  // 6. The card's identity.
  CardData card;
  card.scheme = chosen->scheme;
  card.aid = chosen->aid;
  card.unpredictable_number = input.unpredictable_number;
  const ByteView pan_value = objects.get(0x5A);
  if (!objects.has(0x5A)) return fail.card("pan_missing", "no tag 5A in the card's data");
  auto pan = decode_pan(pan_value);
  if (!pan) {
    return fail.card("pan_invalid", "tag 5A of " + std::to_string(pan_value.size()) +
                                        " bytes is not a 12-19 digit PAN with a valid check digit");
  }
  if (objects.has(0x57)) {
    auto t2 = track2_pan(objects.get(0x57));
    if (!t2) return fail.card("track2_invalid", "tag 57 is not track 2 equivalent data");
    if (t2->digits() != pan->digits()) {
      return fail.card("pan_mismatch", "the PAN in tag 57 differs from tag 5A");
    }
  }
  card.pan = std::move(*pan);
  if (!objects.has(0x5F24)) return fail.card("expiry_missing", "no tag 5F24 in the card's data");
  auto expiry = decode_expiry(objects.get(0x5F24));
  if (!expiry) return fail.card("expiry_invalid", "tag 5F24 is not a YYMMDD date");
  card.expiry = *expiry;
  if (objects.has(0x5F34)) {
    const ByteView psn = objects.get(0x5F34);
    const int value = psn.size() == 1 ? bcd_byte(psn[0]) : -1;
    if (value < 0) return fail.card("psn_invalid", "tag 5F34 is not one BCD byte");
    card.psn = static_cast<std::uint8_t>(value);
  }

  // 7. Offline data authentication, strongest method the card offers: CDA, fDDA, SDA.
  OdaCardData oda_data;
  std::copy_n(chosen->aid.begin(), oda::kRidBytes, oda_data.rid.begin());
  oda_data.ca_index = objects.get(0x8F);
  oda_data.pan = pan_value;
  oda_data.issuer = {objects.get(0x90), objects.get(0x92), objects.get(0x9F32)};
  oda_data.icc = {objects.get(0x9F46), objects.get(0x9F48), objects.get(0x9F47)};
  oda_data.ssad = objects.get(0x93);
  oda_data.sdad = objects.get(0x9F4B);
  // The SDA tag list may only name the AIP (Book 3, 10.3); its value joins the static data.
  if (objects.has(0x9F4A)) {
    const ByteView list = objects.get(0x9F4A);
    if (list.size() == 1 && list[0] == 0x82) {
      static_data.insert(static_data.end(), aip.begin(), aip.end());
    } else {
      card.oda_failure = oda::OdaFailure::kDataMissing;
    }
  }
  oda_data.static_data = static_data;
  const ByteView un(input.unpredictable_number);
  const std::uint8_t aip1 = aip[0];

  const auto keep_cryptogram_data = [&](const CardObjects& from) {
    if (from.has(0x9F36)) {
      if (auto atc = decode_binary(from.get(0x9F36), 2, 2)) {
        card.atc = static_cast<std::uint16_t>(*atc);
      }
    }
    if (from.has(0x9F26)) card.application_cryptogram.assign(from.get(0x9F26).begin(), from.get(0x9F26).end());
    if (from.get(0x9F27).size() == 1) card.cryptogram_information = from.get(0x9F27)[0];
    if (from.has(0x9F10)) card.issuer_application_data.assign(from.get(0x9F10).begin(), from.get(0x9F10).end());
  };
  keep_cryptogram_data(objects);
  if (objects.has(0x9F24)) {
    card.payment_account_reference.assign(objects.get(0x9F24).begin(), objects.get(0x9F24).end());
  }

  if (card.oda_failure) {
    // The SDA tag list was malformed: nothing can be authenticated.
  } else if (aip1 & kAipCda) {
    card.oda = OdaMethod::kCda;
    // 8. GENERATE AC: an ARQC (the back office authorizes later), with a CDA signature.
    if (!objects.has(0x8C)) {
      card.oda_failure = oda::OdaFailure::kDataMissing;
    } else {
      auto cdol1 = parse_dol(objects.get(0x8C));
      if (!cdol1) return fail.card("malformed_tlv", "CDOL1: " + cdol1.error().message);
      const Bytes cdol_data = build_dol_data(*cdol1, values);
      auto gac = exchange(generate_ac(kGenerateAcArqc | kGenerateAcCda, cdol_data),
                          "GENERATE AC");
      if (!gac) return std::unexpected(gac.error());
      if (!(*gac)->ok()) {
        return fail.card("generate_ac_refused", "GENERATE AC answered " + sw_hex((*gac)->sw));
      }
      auto gac_tlv = parse(**gac, "GENERATE AC answer");
      if (!gac_tlv) return std::unexpected(gac_tlv.error());
      const Tlv* format2 = top(**gac_tlv, 0x77);
      CardObjects answer;
      if (format2) {
        if (auto dup = answer.add_all(*format2)) {
          return fail.card("duplicate_tag", "GENERATE AC answer repeats " + tag_hex(*dup));
        }
      }
      keep_cryptogram_data(answer);
      if (!format2 || answer.get(0x9F27).size() != 1 || !answer.has(0x9F4B)) {
        // Format 1 (80) cannot carry a signature: CDA was asked for and not given.
        card.oda_failure = oda::OdaFailure::kDataMissing;
      } else {
        // Transaction data hash (Book 2, 6.6.2, step 12): PDOL data, CDOL1 data, then the
        // answer's data objects in the order received, except the SDAD.
        Bytes hashed = pdol_data;
        hashed.insert(hashed.end(), cdol_data.begin(), cdol_data.end());
        for (const Tlv& c : format2->children) {
          if (c.tag == 0x9F4B) continue;
          const Bytes encoded = encode_tlv(c.tag, c.value);
          hashed.insert(hashed.end(), encoded.begin(), encoded.end());
        }
        oda_data.sdad = answer.get(0x9F4B);
        auto cda = authenticate_cda(ca_keys_, oda_data, un, answer.get(0x9F27)[0],
                                    oda::sha1({hashed}), input.date);
        if (!cda) {
          card.oda_failure = cda.error();
        } else {
          // The cryptogram travels only inside the signature under CDA.
          card.application_cryptogram.assign(cda->application_cryptogram.begin(),
                                             cda->application_cryptogram.end());
        }
      }
    }
  } else if ((aip1 & kAipDda) && objects.has(0x9F4B)) {
    card.oda = OdaMethod::kFdda;
    // fDDA version 01 (9F69 starting 01) signs UN, amount, currency and 9F69; version 00 only
    // the UN.
    Bytes terminal_data(un.begin(), un.end());
    const ByteView card_auth = objects.get(0x9F69);
    if (!card_auth.empty() && card_auth[0] == 0x01) {
      for (std::uint32_t tag : {0x9F02u, 0x5F2Au}) {
        const Bytes& v = values.at(tag);
        terminal_data.insert(terminal_data.end(), v.begin(), v.end());
      }
      terminal_data.insert(terminal_data.end(), card_auth.begin(), card_auth.end());
    }
    if (auto ok = authenticate_fdda(ca_keys_, oda_data, terminal_data, input.date); !ok) {
      card.oda_failure = ok.error();
    }
  } else if (aip1 & kAipSda) {
    card.oda = OdaMethod::kSda;
    if (auto ok = authenticate_sda(ca_keys_, oda_data, input.date); !ok) {
      card.oda_failure = ok.error();
    }
  } else {
    card.oda_failure = oda::OdaFailure::kNotSupported;
  }
  card.apdu_count = channel.count();
  return card;
}

}  // namespace faregate::emv
