#include "simulator/cards/emv_card.h"

#include <algorithm>

#include "firmware/emv/oda/sha1.h"
#include "firmware/emv/tlv.h"

namespace faregate::simulator {

namespace {

using emv::encode_constructed;
using emv::encode_tlv;

constexpr std::string_view kPpseName = "2PAY.SYS.DDF01";

constexpr std::uint16_t kSwOk = 0x9000;
constexpr std::uint16_t kSwWrongLength = 0x6700;
constexpr std::uint16_t kSwWrongP1P2 = 0x6A86;
constexpr std::uint16_t kSwNotFound = 0x6A82;
constexpr std::uint16_t kSwRecordNotFound = 0x6A83;
constexpr std::uint16_t kSwConditions = 0x6985;
constexpr std::uint16_t kSwInsNotSupported = 0x6D00;
constexpr std::uint16_t kSwClaNotSupported = 0x6E00;
constexpr std::uint16_t kSwBlocked = 0x6283;

// qVSDC PDOL: TTQ, amount, other amount, country, TVR, currency, date, type, UN (33 bytes).
const Bytes kPdol = from_hex("9f66049f02069f03069f1a0295055f2a029a039c019f3704").value();
constexpr std::size_t kPdolUnOffset = 29;       // 4 + 6 + 6 + 2 + 5 + 2 + 3 + 1
constexpr std::size_t kPdolAmountOffset = 4;
constexpr std::size_t kPdolCurrencyOffset = 23;  // 4 + 6 + 6 + 2 + 5
constexpr std::size_t kPdolBytes = 33;
// CDOL1 of the CDA cards: amount, other amount, country, TVR, currency, date, type, UN, terminal
// type (30 bytes).
const Bytes kCdol1 = from_hex("9f02069f03069f1a0295055f2a029a039c019f37049f3501").value();
constexpr std::size_t kCdolAmountOffset = 0;
constexpr std::size_t kCdolUnOffset = 25;  // 6 + 6 + 2 + 5 + 2 + 3 + 1
constexpr std::size_t kCdolBytes = 30;
constexpr std::uint8_t kCidArqc = 0x80;

Bytes sw_only(std::uint16_t sw) {
  return {static_cast<std::uint8_t>(sw >> 8), static_cast<std::uint8_t>(sw)};
}

std::uint8_t bcd(unsigned value) {
  return static_cast<std::uint8_t>((value / 10 % 10) << 4 | value % 10);
}

// Packs decimal digits and hex nibbles ('D' separator) two per byte, padding with F.
Bytes pack_nibbles(const std::string& nibbles) {
  Bytes out;
  auto value = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c - 'A' + 10; };
  for (std::size_t i = 0; i < nibbles.size(); i += 2) {
    const int hi = value(nibbles[i]);
    const int lo = i + 1 < nibbles.size() ? value(nibbles[i + 1]) : 0x0F;
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

// The parts of a command APDU (ISO/IEC 7816-3, 12.1.3, short APDUs only).
struct Command {
  std::uint8_t cla = 0, ins = 0, p1 = 0, p2 = 0;
  ByteView data;
  std::optional<std::size_t> le;  // Le byte 00 means 256
};

std::optional<Command> parse_command(ByteView apdu) {
  if (apdu.size() < 4) return std::nullopt;
  Command c{apdu[0], apdu[1], apdu[2], apdu[3], {}, std::nullopt};
  if (apdu.size() == 4) return c;  // case 1
  if (apdu.size() == 5) {          // case 2
    c.le = apdu[4] == 0 ? 256 : apdu[4];
    return c;
  }
  const std::size_t lc = apdu[4];
  if (lc == 0) return std::nullopt;  // an extended-length APDU: this card does not do those
  if (apdu.size() == 5 + lc) {       // case 3
    c.data = apdu.subspan(5, lc);
    return c;
  }
  if (apdu.size() == 6 + lc) {  // case 4
    c.data = apdu.subspan(5, lc);
    c.le = apdu.back() == 0 ? 256 : apdu.back();
    return c;
  }
  return std::nullopt;
}

}  // namespace

EmvCard::EmvCard(EmvCardProfile profile)
    : profile_(std::move(profile)),
      atc_(static_cast<std::uint16_t>(profile_.first_atc - 1)),
      drbg_(crypto::Drbg::deterministic(std::hash<std::string>{}(profile_.pan) ^ profile_.first_atc)) {}

hal::CardInfo EmvCard::info() const {
  // ATS: TL=05 (its own length), T0=78 (TA, TB, TC follow; FSCI 8 = 256-byte frames),
  // TA=80, TB=70, TC=02.
  return {profile_.uid, 0x0044, 0x20, Bytes{0x05, 0x78, 0x80, 0x70, 0x02}};
}

void EmvCard::on_deselect() {
  selected_.reset();
  processing_ = false;
  pdol_data_.clear();
  pending_.clear();
}

Result<Bytes> EmvCard::respond(ByteView apdu) {
  ++commands_seen_;
  const auto command = parse_command(apdu);
  if (!command) return sw_only(kSwWrongLength);
  const Command& c = *command;
  const bool chaining = c.cla == 0x00 && c.ins == 0xC0;
  if (!chaining) pending_.clear();  // any other command abandons a chained answer

  if (c.cla != 0x00 && c.cla != 0x80) return sw_only(kSwClaNotSupported);
  if (c.cla == 0x00 && c.ins == 0xA4) {
    if (c.p1 != 0x04 || c.p2 != 0x00) return sw_only(kSwWrongP1P2);  // by name, first only
    if (c.data.empty()) return sw_only(kSwWrongLength);
    return select(c.data, c.le);
  }
  if (c.cla == 0x80 && c.ins == 0xA8) {
    if (c.p1 != 0x00 || c.p2 != 0x00) return sw_only(kSwWrongP1P2);
    return get_processing_options(c.data, c.le);
  }
  if (c.cla == 0x00 && c.ins == 0xB2) {
    if (!c.data.empty() || !c.le) return sw_only(kSwWrongLength);
    return read_record(c.p1, c.p2, c.le);
  }
  if (c.cla == 0x80 && c.ins == 0xAE) return generate_ac(c.p1, c.data, c.le);
  if (chaining) {
    if (c.p1 != 0x00 || c.p2 != 0x00) return sw_only(kSwWrongP1P2);
    return get_response(c.le);
  }
  return sw_only(kSwInsNotSupported);
}

Bytes EmvCard::answer(ByteView data, std::uint16_t sw, std::optional<std::size_t> le) {
  if (sw != kSwOk) return sw_only(sw);
  // Le shorter than the answer: 6Cxx tells the terminal the right Le (ISO/IEC 7816-4, 5.1.3).
  if (le && *le < data.size() && data.size() <= 256) {
    return sw_only(static_cast<std::uint16_t>(0x6C00 | (data.size() & 0xFF)));
  }
  Bytes out;
  if (profile_.chunk_bytes != 0 && data.size() > profile_.chunk_bytes) {
    out.assign(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(profile_.chunk_bytes));
    pending_.assign(data.begin() + static_cast<std::ptrdiff_t>(profile_.chunk_bytes), data.end());
    // SW2: the bytes still available, 00 for 256 or more.
    out.push_back(0x61);
    out.push_back(static_cast<std::uint8_t>(pending_.size() > 255 ? 0 : pending_.size()));
    return out;
  }
  out.assign(data.begin(), data.end());
  append(out, sw_only(kSwOk));
  return out;
}

Bytes EmvCard::get_response(std::optional<std::size_t> le) {
  if (pending_.empty()) return sw_only(kSwConditions);
  const std::size_t limit = std::min({le.value_or(256), pending_.size(),
                                      profile_.chunk_bytes != 0 ? profile_.chunk_bytes : 256});
  Bytes out(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(limit));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(limit));
  if (pending_.empty()) {
    append(out, sw_only(kSwOk));
  } else {
    out.push_back(0x61);
    out.push_back(static_cast<std::uint8_t>(pending_.size() > 255 ? 0 : pending_.size()));
  }
  return out;
}

Bytes EmvCard::select(ByteView name, std::optional<std::size_t> le) {
  processing_ = false;
  if (std::ranges::equal(name, as_bytes(kPpseName))) {
    selected_.reset();
    if (profile_.fault == CardFault::kNoPpse) return sw_only(kSwNotFound);
    std::vector<Bytes> entries;
    for (const EmvApplication& app : profile_.applications) {
      entries.push_back(encode_constructed(
          0x61, {encode_tlv(0x4F, app.aid), encode_tlv(0x50, as_bytes(app.label)),
                 encode_tlv(0x87, Bytes{app.priority})}));
    }
    const Bytes fci = encode_constructed(
        0x6F, {encode_tlv(0x84, as_bytes(kPpseName)),
               encode_constructed(0xA5, {encode_constructed(0xBF0C, entries)})});
    return answer(fci, kSwOk, le);
  }
  for (std::size_t i = 0; i < profile_.applications.size(); ++i) {
    const EmvApplication& app = profile_.applications[i];
    if (!std::ranges::equal(name, app.aid)) continue;
    if (profile_.fault == CardFault::kBlocked) return sw_only(kSwBlocked);
    selected_ = i;
    std::vector<Bytes> proprietary{encode_tlv(0x50, as_bytes(app.label)),
                                   encode_tlv(0x87, Bytes{app.priority}),
                                   encode_tlv(0x5F2D, as_bytes("en"))};
    if (profile_.oda != OdaKind::kCda) proprietary.push_back(encode_tlv(0x9F38, kPdol));
    const Bytes fci = encode_constructed(
        0x6F, {encode_tlv(0x84, app.aid), encode_constructed(0xA5, proprietary)});
    return answer(fci, kSwOk, le);
  }
  return sw_only(kSwNotFound);
}

Bytes EmvCard::aip(const EmvCardProfile& profile) {
  switch (profile.oda) {
    case OdaKind::kFdda: return {0x20, 0x00};  // DDA (fDDA)
    case OdaKind::kCda: return {0x19, 0x80};   // CDA, cardholder verification, risk management
    case OdaKind::kSda: return {0x40, 0x00};   // SDA
  }
  return {0x00, 0x00};
}

Bytes EmvCard::afl() const {
  // SFI 1 record 1 (for ODA), SFI 2 records 1-2 (certificates); a card with a missing record
  // lists SFI 2 record 3 too.
  const std::uint8_t last_sfi2 = profile_.fault == CardFault::kMissingRecord ? 3 : 2;
  return {1 << 3, 1, 1, 1, 2 << 3, 1, last_sfi2, 0};
}

Bytes EmvCard::cryptogram(ByteView unpredictable_number, ByteView amount) const {
  const auto key = crypto::sha256(as_bytes("faregate simulated issuer key " + profile_.pan));
  Bytes input{static_cast<std::uint8_t>(atc_ >> 8), static_cast<std::uint8_t>(atc_)};
  append(input, Bytes(unpredictable_number.begin(), unpredictable_number.end()));
  append(input, Bytes(amount.begin(), amount.end()));
  const auto mac = crypto::hmac_sha256(key, input);
  return mac ? Bytes(mac->begin(), mac->begin() + 8) : Bytes(8, 0);
}

Bytes EmvCard::dynamic_number() {
  // ICC dynamic number: the ATC then six bytes of the card's own randomness.
  Bytes number{static_cast<std::uint8_t>(atc_ >> 8), static_cast<std::uint8_t>(atc_)};
  auto random = drbg_.bytes(6);
  append(number, random ? *random : Bytes(6, 0));
  return number;
}

Bytes EmvCard::get_processing_options(ByteView data, std::optional<std::size_t> le) {
  if (!selected_) return sw_only(kSwConditions);
  // Command data: 83 L <PDOL data>, exactly as long as the card's PDOL asks.
  const std::size_t expected = profile_.oda == OdaKind::kCda ? 0 : kPdolBytes;
  if (data.size() != 2 + expected || data[0] != 0x83 || data[1] != expected) {
    return sw_only(kSwWrongLength);
  }
  pdol_data_.assign(data.begin() + 2, data.end());
  processing_ = true;
  ++atc_;
  const Bytes atc{static_cast<std::uint8_t>(atc_ >> 8), static_cast<std::uint8_t>(atc_)};
  if (profile_.oda == OdaKind::kCda) {
    Bytes format1 = aip(profile_);
    append(format1, afl());
    return answer(encode_tlv(0x80, format1), kSwOk, le);
  }
  const ByteView pdol(pdol_data_);
  const ByteView un = pdol.subspan(kPdolUnOffset, 4);
  const ByteView amount = pdol.subspan(kPdolAmountOffset, 6);
  const ByteView currency = pdol.subspan(kPdolCurrencyOffset, 2);
  std::vector<Bytes> objects{encode_tlv(0x82, aip(profile_)), encode_tlv(0x94, afl()),
                             encode_tlv(0x9F36, atc), encode_tlv(0x9F26, cryptogram(un, amount)),
                             encode_tlv(0x9F27, Bytes{kCidArqc}),
                             encode_tlv(0x9F10, from_hex("06011203a00000").value())};
  if (profile_.oda == OdaKind::kFdda && profile_.oda_data && profile_.oda_data->icc_key) {
    // Card authentication related data: fDDA version 01, the card's unpredictable number, CTQ.
    Bytes card_auth{0x01};
    auto card_un = drbg_.bytes(4);
    append(card_auth, card_un ? *card_un : Bytes(4, 0));
    append(card_auth, Bytes{0x00, 0x00});
    Bytes signed_terminal_data(un.begin(), un.end());
    if (profile_.fault == CardFault::kTamperedSdad) signed_terminal_data[0] ^= 0xFF;
    append(signed_terminal_data, Bytes(amount.begin(), amount.end()));
    append(signed_terminal_data, Bytes(currency.begin(), currency.end()));
    append(signed_terminal_data, card_auth);
    auto dynamic = sim::issuer::icc_dynamic_data(dynamic_number());
    auto sdad = dynamic ? sim::issuer::sign_dynamic_data(*profile_.oda_data->icc_key, *dynamic,
                                                         signed_terminal_data, drbg_)
                        : Result<Bytes>(std::unexpected(dynamic.error()));
    if (!sdad) return sw_only(0x6F00);  // the card's own failure: "no precise diagnosis"
    objects.push_back(encode_tlv(0x9F4B, *sdad));
    objects.push_back(encode_tlv(0x9F69, card_auth));
  }
  return answer(encode_constructed(0x77, objects), kSwOk, le);
}

Bytes EmvCard::generate_ac(std::uint8_t p1, ByteView data, std::optional<std::size_t> le) {
  if (!processing_) return sw_only(kSwConditions);
  if (profile_.oda != OdaKind::kCda) return sw_only(kSwInsNotSupported);
  if (data.size() != kCdolBytes) return sw_only(kSwWrongLength);
  processing_ = false;  // one GENERATE AC per transaction here
  const ByteView un = data.subspan(kCdolUnOffset, 4);
  const ByteView amount = data.subspan(kCdolAmountOffset, 6);
  const Bytes ac = cryptogram(un, amount);
  // A transit card answers an ARQC request with an ARQC (the issuer decides online later).
  const std::uint8_t cid = (p1 & 0xC0) == 0x00 ? 0x00 : kCidArqc;
  const Bytes atc{static_cast<std::uint8_t>(atc_ >> 8), static_cast<std::uint8_t>(atc_)};
  const std::vector<Bytes> clear{encode_tlv(0x9F27, Bytes{cid}), encode_tlv(0x9F36, atc),
                                 encode_tlv(0x9F10, from_hex("0110a00003220000").value())};
  std::vector<Bytes> objects = clear;
  if ((p1 & 0x10) != 0 && profile_.oda_data && profile_.oda_data->icc_key) {
    // CDA: the transaction data hash covers the PDOL data, the CDOL1 data and the answer's
    // other data objects (EMV Book 2, 6.6.1).
    Bytes hashed = pdol_data_;
    append(hashed, Bytes(data.begin(), data.end()));
    for (const Bytes& object : clear) append(hashed, object);
    const auto hash = emv::oda::sha1({hashed});
    const Bytes number = dynamic_number();
    Bytes dynamic{static_cast<std::uint8_t>(number.size())};
    append(dynamic, number);
    dynamic.push_back(cid);
    append(dynamic, ac);
    append(dynamic, Bytes(hash.begin(), hash.end()));
    Bytes signed_un(un.begin(), un.end());
    if (profile_.fault == CardFault::kTamperedSdad) signed_un[0] ^= 0xFF;
    auto sdad = sim::issuer::sign_dynamic_data(*profile_.oda_data->icc_key, dynamic, signed_un,
                                               drbg_);
    if (!sdad) return sw_only(0x6F00);
    objects.push_back(encode_tlv(0x9F4B, *sdad));
  } else {
    objects.push_back(encode_tlv(0x9F26, ac));
  }
  return answer(encode_constructed(0x77, objects), kSwOk, le);
}

Bytes EmvCard::read_record(std::uint8_t record, std::uint8_t p2, std::optional<std::size_t> le) {
  if ((p2 & 0x07) != 0x04) return sw_only(kSwWrongP1P2);  // only "P1 is a record number"
  if (!selected_) return sw_only(kSwConditions);
  const std::uint8_t sfi = p2 >> 3;
  if (sfi == 1 && record == 1) return answer(record_sfi1(profile_), kSwOk, le);
  if (sfi == 2 && (record == 1 || record == 2)) {
    const Bytes r = record_sfi2(record);
    if (!r.empty()) return answer(r, kSwOk, le);
  }
  if (sfi == 1 || sfi == 2) return sw_only(kSwRecordNotFound);
  return sw_only(kSwNotFound);
}

Bytes EmvCard::record_sfi1(const EmvCardProfile& profile) {
  // Track 2 equivalent: PAN, separator D, expiry YYMM, service code 201 (international, chip),
  // discretionary data.
  std::string nibbles = profile.pan + "D";
  for (std::size_t i = 0; i < 2 && i < profile.expiry_yymmdd.size(); ++i) {
    nibbles += static_cast<char>('0' + (profile.expiry_yymmdd[i] >> 4));
    nibbles += static_cast<char>('0' + (profile.expiry_yymmdd[i] & 0x0F));
  }
  nibbles += "201" "00000";
  const Bytes track2 = pack_nibbles(nibbles);

  Bytes inner;
  if (profile.fault != CardFault::kMissingPan) {
    if (profile.fault != CardFault::kTruncatedTrack2) append(inner, encode_tlv(0x57, track2));
    append(inner, encode_tlv(0x5A, pack_nibbles(profile.pan)));
  }
  append(inner, encode_tlv(0x5F24, profile.expiry_yymmdd));
  if (profile.psn) append(inner, encode_tlv(0x5F34, Bytes{bcd(*profile.psn)}));
  append(inner, encode_tlv(0x5F25, Bytes{0x24, 0x01, 0x01}));  // effective date
  append(inner, encode_tlv(0x5F28, Bytes{0x08, 0x26}));        // issuer country 826
  append(inner, encode_tlv(0x9F07, Bytes{0xFF, 0x00}));        // usage control
  append(inner, encode_tlv(0x9F4A, Bytes{0x82}));              // SDA tag list: the AIP
  if (profile.oda == OdaKind::kCda) append(inner, encode_tlv(0x8C, kCdol1));
  if (profile.fault == CardFault::kTruncatedTrack2) {
    // The field incident: tag 57 announcing 48 bytes, followed by the 15 or 16 it really has.
    // The record template's own length is right, so only a parser that checks every nested
    // length against what remains notices.
    inner.push_back(0x57);
    inner.push_back(0x30);
    append(inner, track2);
  }
  return encode_tlv(0x70, inner);
}

Bytes EmvCard::static_data_to_authenticate(const EmvCardProfile& profile) {
  // The value of record SFI 1 / 1 (template 70 stripped, Book 3 10.3), then the AIP named by the
  // SDA tag list.
  const Bytes record = record_sfi1(profile);
  auto parsed = emv::parse_tlv(record);
  Bytes out;
  if (parsed && !parsed->empty()) out.assign(parsed->front().value.begin(), parsed->front().value.end());
  append(out, aip(profile));
  return out;
}

Bytes EmvCard::record_sfi2(std::uint8_t record) const {
  if (!profile_.oda_data) return {};
  const CardOdaData& d = *profile_.oda_data;
  if (record == 1) {
    std::vector<Bytes> objects{encode_tlv(0x8F, Bytes{d.ca_index}),
                               encode_tlv(0x90, d.issuer.certificate),
                               encode_tlv(0x9F32, d.issuer.exponent)};
    if (!d.issuer.remainder.empty()) objects.push_back(encode_tlv(0x92, d.issuer.remainder));
    return encode_constructed(0x70, objects);
  }
  if (profile_.oda == OdaKind::kSda) return encode_constructed(0x70, {encode_tlv(0x93, d.ssad)});
  std::vector<Bytes> objects{encode_tlv(0x9F46, d.icc.certificate),
                             encode_tlv(0x9F47, d.icc.exponent)};
  if (!d.icc.remainder.empty()) objects.push_back(encode_tlv(0x9F48, d.icc.remainder));
  return encode_constructed(0x70, objects);
}

}  // namespace faregate::simulator
