#include "firmware/emv/tlv.h"

#include <algorithm>
#include <string>

namespace faregate::emv {

namespace {

std::unexpected<Error> corrupt(const std::string& what, std::size_t offset) {
  return make_error(ErrorCode::kCorrupt, what + " at offset " + std::to_string(offset));
}

// Reads a tag starting at data[pos]; advances pos. `what` prefixes error messages.
Result<std::uint32_t> read_tag(ByteView data, std::size_t& pos, std::size_t base,
                               std::string_view what) {
  const std::size_t start = pos;
  std::uint32_t tag = data[pos++];
  // Low five bits all set: the tag continues; in each subsequent byte bit 8 says "one more".
  if ((tag & 0x1F) == 0x1F) {
    for (int bytes = 1;; ++bytes) {
      if (bytes == kMaxTagBytes) {
        return corrupt(std::string(what) + " tag longer than " + std::to_string(kMaxTagBytes) +
                           " bytes",
                       base + start);
      }
      if (pos >= data.size()) return corrupt(std::string(what) + " tag cut short", base + start);
      const std::uint8_t b = data[pos++];
      tag = tag << 8 | b;
      if ((b & 0x80) == 0) break;
    }
  }
  return tag;
}

Result<std::vector<Tlv>> parse_level(ByteView data, std::size_t base, int depth) {
  if (depth > kMaxTlvDepth) {
    return corrupt("TLV nesting deeper than " + std::to_string(kMaxTlvDepth), base);
  }
  std::vector<Tlv> out;
  std::size_t pos = 0;
  while (pos < data.size()) {
    // 00 and FF before, between and after objects are padding (EMV Book 3, Annex B).
    if (data[pos] == 0x00 || data[pos] == 0xFF) {
      ++pos;
      continue;
    }
    const std::size_t tag_start = pos;
    auto tag = read_tag(data, pos, base, "TLV");
    if (!tag) return std::unexpected(tag.error());

    if (pos >= data.size()) return corrupt("length missing", base + pos);
    std::size_t length = data[pos++];
    if (length & 0x80) {
      const std::size_t count = length & 0x7F;
      // Indefinite length (80) is BER but never EMV; lengths of 3+ bytes cannot fit a card
      // response and only serve to overflow 16-bit arithmetic in readers.
      if (count == 0) return corrupt("indefinite length", base + pos - 1);
      if (count > 2) {
        return corrupt("long-form length of " + std::to_string(count) + " bytes", base + pos - 1);
      }
      if (data.size() - pos < count) return corrupt("length cut short", base + pos);
      length = 0;
      for (std::size_t i = 0; i < count; ++i) length = length << 8 | data[pos++];
    }
    const std::size_t left = data.size() - pos;
    if (length > left) {
      return corrupt("length " + std::to_string(length) + " runs past the end (" +
                         std::to_string(left) + " bytes left)",
                     base + tag_start);
    }
    Tlv node;
    node.tag = *tag;
    node.value = data.subspan(pos, length);
    if (node.constructed()) {
      auto children = parse_level(node.value, base + pos, depth + 1);
      if (!children) return std::unexpected(children.error());
      node.children = std::move(*children);
    }
    pos += length;
    out.push_back(std::move(node));
  }
  return out;
}

}  // namespace

bool is_constructed_tag(std::uint32_t tag) {
  // The constructed bit lives in the first tag byte, whatever the tag's length.
  while (tag > 0xFF) tag >>= 8;
  return (tag & 0x20) != 0;
}

bool Tlv::constructed() const { return is_constructed_tag(tag); }

const Tlv* Tlv::find(std::uint32_t wanted) const { return find_tag(children, wanted); }

Result<std::vector<Tlv>> parse_tlv(ByteView data) { return parse_level(data, 0, 0); }

const Tlv* find_tag(const std::vector<Tlv>& nodes, std::uint32_t tag) {
  for (const Tlv& node : nodes) {
    if (node.tag == tag) return &node;
    if (const Tlv* inner = find_tag(node.children, tag)) return inner;
  }
  return nullptr;
}

Bytes encode_tag(std::uint32_t tag) {
  Bytes out;
  if (tag > 0xFFFFFF) out.push_back(static_cast<std::uint8_t>(tag >> 24));
  if (tag > 0xFFFF) out.push_back(static_cast<std::uint8_t>(tag >> 16));
  if (tag > 0xFF) out.push_back(static_cast<std::uint8_t>(tag >> 8));
  out.push_back(static_cast<std::uint8_t>(tag));
  return out;
}

Bytes encode_length(std::size_t length) {
  if (length < 0x80) return {static_cast<std::uint8_t>(length)};
  if (length <= 0xFF) return {0x81, static_cast<std::uint8_t>(length)};
  if (length <= 0xFFFF) {
    return {0x82, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
  }
  return {0x83, static_cast<std::uint8_t>(length >> 16), static_cast<std::uint8_t>(length >> 8),
          static_cast<std::uint8_t>(length)};
}

Bytes encode_tlv(std::uint32_t tag, ByteView value) {
  Bytes out = encode_tag(tag);
  const Bytes len = encode_length(value.size());
  out.insert(out.end(), len.begin(), len.end());
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

Bytes encode_constructed(std::uint32_t tag, std::initializer_list<Bytes> children) {
  return encode_constructed(tag, std::vector<Bytes>(children));
}

Bytes encode_constructed(std::uint32_t tag, const std::vector<Bytes>& children) {
  Bytes value;
  for (const Bytes& c : children) value.insert(value.end(), c.begin(), c.end());
  return encode_tlv(tag, value);
}

Result<std::vector<DolEntry>> parse_dol(ByteView dol) {
  std::vector<DolEntry> out;
  std::size_t pos = 0;
  while (pos < dol.size()) {
    auto tag = read_tag(dol, pos, 0, "DOL");
    if (!tag) return std::unexpected(tag.error());
    // A DOL length is always one byte (EMV Book 3, 5.4).
    if (pos >= dol.size()) return corrupt("DOL length missing", pos);
    out.push_back({*tag, dol[pos++]});
  }
  return out;
}

DolFormat dol_format(std::uint32_t tag) {
  switch (tag) {
    // 'n': amounts, codes, dates and counters the terminal supplies.
    case 0x9F02:  // Amount, Authorised (n12)
    case 0x9F03:  // Amount, Other (n12)
    case 0x5F2A:  // Transaction Currency Code (n3)
    case 0x5F36:  // Transaction Currency Exponent (n1)
    case 0x9F1A:  // Terminal Country Code (n3)
    case 0x9A:    // Transaction Date (n6, YYMMDD)
    case 0x9C:    // Transaction Type (n2)
    case 0x9F21:  // Transaction Time (n6, HHMMSS)
    case 0x9F41:  // Transaction Sequence Counter (n4-8)
    case 0x9F15:  // Merchant Category Code (n4)
    case 0x9F35:  // Terminal Type (n2)
    case 0x9F39:  // Point-of-Service Entry Mode (n2)
    case 0x9F3C:  // Transaction Reference Currency Code (n3)
    case 0x9F3D:  // Transaction Reference Currency Exponent (n1)
    case 0x9F01:  // Acquirer Identifier (n6-11)
      return DolFormat::kNumeric;
    // 'cn': left-aligned BCD padded with F.
    case 0x5A:    // Application PAN (cn up to 19)
    case 0x9F20:  // Track 2 Discretionary Data (cn)
      return DolFormat::kCompressedNumeric;
    default:
      return DolFormat::kOther;
  }
}

Bytes build_dol_data(const std::vector<DolEntry>& dol,
                     const std::map<std::uint32_t, Bytes>& values) {
  Bytes out;
  for (const DolEntry& entry : dol) {
    const auto it = values.find(entry.tag);
    if (it == values.end() || is_constructed_tag(entry.tag)) {
      out.insert(out.end(), entry.length, 0x00);
      continue;
    }
    const Bytes& v = it->second;
    const auto want = static_cast<std::ptrdiff_t>(entry.length);
    const auto have = static_cast<std::ptrdiff_t>(v.size());
    switch (dol_format(entry.tag)) {
      case DolFormat::kNumeric:
        if (have >= want) {
          out.insert(out.end(), v.end() - want, v.end());  // keep the rightmost digits
        } else {
          out.insert(out.end(), entry.length - v.size(), 0x00);
          out.insert(out.end(), v.begin(), v.end());
        }
        break;
      case DolFormat::kCompressedNumeric:
      case DolFormat::kOther: {
        const std::uint8_t pad = dol_format(entry.tag) == DolFormat::kOther ? 0x00 : 0xFF;
        out.insert(out.end(), v.begin(), v.begin() + std::min(have, want));
        if (have < want) out.insert(out.end(), entry.length - v.size(), pad);
        break;
      }
    }
  }
  return out;
}

}  // namespace faregate::emv
