#include "simulator/cards/emv_card.h"

#include <algorithm>

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
    : profile_(std::move(profile)), atc_(static_cast<std::uint16_t>(profile_.first_atc - 1)) {}

hal::CardInfo EmvCard::info() const {
  // ATS: TL=05 (its own length), T0=78 (TA, TB, TC follow; FSCI 8 = 256-byte frames),
  // TA=80, TB=70, TC=02.
  return {profile_.uid, 0x0044, 0x20, Bytes{0x05, 0x78, 0x80, 0x70, 0x02}};
}

void EmvCard::on_deselect() {
  selected_.reset();
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
  if (c.cla == 0x00 && c.ins == 0xB2) {
    if (!c.data.empty() || !c.le) return sw_only(kSwWrongLength);
    return read_record(c.p1, c.p2, c.le);
  }
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
    selected_ = i;
    // A real card counts transactions at GET PROCESSING OPTIONS; this card has no GPO, so the
    // application selection that starts each tap stands in for it.
    ++atc_;
    const Bytes fci = encode_constructed(
        0x6F, {encode_tlv(0x84, app.aid),
               encode_constructed(0xA5, {encode_tlv(0x50, as_bytes(app.label)),
                                         encode_tlv(0x87, Bytes{app.priority}),
                                         encode_tlv(0x5F2D, as_bytes("en"))})});
    return answer(fci, kSwOk, le);
  }
  return sw_only(kSwNotFound);
}

Bytes EmvCard::read_record(std::uint8_t record, std::uint8_t p2, std::optional<std::size_t> le) {
  if ((p2 & 0x07) != 0x04) return sw_only(kSwWrongP1P2);  // only "P1 is a record number"
  if (!selected_) return sw_only(kSwConditions);
  const std::uint8_t sfi = p2 >> 3;
  if (sfi != 1) return sw_only(kSwNotFound);
  if (record == 1) return answer(record_one(), kSwOk, le);
  if (record == 2) return answer(record_two(), kSwOk, le);
  return sw_only(kSwRecordNotFound);
}

Bytes EmvCard::record_one() const {
  // Track 2 equivalent: PAN, separator D, expiry YYMM, service code 201 (international, chip),
  // discretionary data.
  std::string nibbles = profile_.pan + "D";
  for (std::size_t i = 0; i < 2 && i < profile_.expiry_yymmdd.size(); ++i) {
    nibbles += static_cast<char>('0' + (profile_.expiry_yymmdd[i] >> 4));
    nibbles += static_cast<char>('0' + (profile_.expiry_yymmdd[i] & 0x0F));
  }
  nibbles += "201" "00000";
  const Bytes track2 = pack_nibbles(nibbles);
  const Bytes atc{static_cast<std::uint8_t>(atc_ >> 8), static_cast<std::uint8_t>(atc_)};

  Bytes inner;
  if (profile_.fault != CardFault::kMissingPan) {
    if (profile_.fault != CardFault::kTruncatedTrack2) append(inner, encode_tlv(0x57, track2));
    append(inner, encode_tlv(0x5A, pack_nibbles(profile_.pan)));
  }
  append(inner, encode_tlv(0x5F24, profile_.expiry_yymmdd));
  if (profile_.psn) append(inner, encode_tlv(0x5F34, Bytes{bcd(*profile_.psn)}));
  append(inner, encode_tlv(0x9F36, atc));
  if (profile_.fault == CardFault::kTruncatedTrack2) {
    // The field incident: tag 57 announcing 48 bytes, followed by the 15 or 16 it really has.
    // The record template's own length is right, so only a parser that checks every nested
    // length against what remains notices.
    inner.push_back(0x57);
    inner.push_back(0x30);
    append(inner, track2);
  }
  return encode_tlv(0x70, inner);
}

Bytes EmvCard::record_two() const {
  return encode_constructed(0x70, {encode_tlv(0x5F25, Bytes{0x24, 0x01, 0x01}),  // effective
                                   encode_tlv(0x5F28, Bytes{0x08, 0x26}),         // country 826
                                   encode_tlv(0x9F07, Bytes{0xFF, 0x00})});       // usage
}

}  // namespace faregate::simulator
