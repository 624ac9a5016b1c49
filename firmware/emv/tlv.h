#pragma once
// BER-TLV as EMV uses it (EMV Book 3, Annex B; ISO/IEC 7816-4 section 5.2): tags of one to three
// bytes, definite lengths in short form or long form 81/82, constructed objects parsed
// recursively. Card data is hostile: every length is checked against the bytes that remain before
// anything is read, nesting is bounded, and nothing here asserts or allocates from a
// card-supplied size (a real firmware overflowed on a card returning tag 57 with a bogus length).
//
// Also the data object lists (DOL: PDOL, CDOL1, DDOL) of EMV Book 3 section 5.4.

#include <cstdint>
#include <initializer_list>
#include <map>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"

namespace faregate::emv {

// Nesting deeper than this in a card response is refused. EMV templates nest four deep at most
// (6F > A5 > BF0C > 61 > 4F); the margin is for proprietary templates.
inline constexpr int kMaxTlvDepth = 8;

// Tags longer than this many bytes are refused (EMV uses at most three, e.g. DF8101).
inline constexpr int kMaxTagBytes = 3;

struct Tlv {
  std::uint32_t tag = 0;      // the tag bytes big-endian: 0x5A, 0x9F36, 0xDF8101
  ByteView value;             // points into the parsed buffer: valid while that buffer lives
  std::vector<Tlv> children;  // the parsed value of a constructed object, else empty

  bool constructed() const;
  // First object with `tag` among the children and their descendants, depth first; nullptr if
  // none.
  const Tlv* find(std::uint32_t tag) const;
};

// Parses a sequence of TLV objects, skipping 00 and FF padding before, between and after them
// (EMV Book 3, Annex B). Constructed objects are parsed recursively.
// Errors (kCorrupt) say what and at which offset: "length 48 at offset 2 runs past the end
// (16 bytes left)". Refused: a length beyond the remaining bytes, a tag or length cut short,
// indefinite length (80), long-form lengths of three or more bytes (83, 84, ...), tags longer
// than kMaxTagBytes, nesting deeper than kMaxTlvDepth.
// The returned objects point into `data`: keep it alive while they are used.
Result<std::vector<Tlv>> parse_tlv(ByteView data);
// A temporary buffer would leave every returned view dangling.
Result<std::vector<Tlv>> parse_tlv(Bytes&& data) = delete;

// Depth-first search through `nodes` and their nested templates; nullptr when absent. With
// duplicate tags the first in document order wins (EMV forbids duplicates within a template;
// cards that send them get a deterministic answer, not an error).
const Tlv* find_tag(const std::vector<Tlv>& nodes, std::uint32_t tag);

// True if the first tag byte marks a constructed object (bit 6, 0x20).
bool is_constructed_tag(std::uint32_t tag);

// Encoding, used by the simulator's cards and by tests. Lengths use the shortest form; values
// of 64 KiB or more get a three-byte long form, which parse_tlv refuses for card data.
Bytes encode_tag(std::uint32_t tag);
Bytes encode_length(std::size_t length);
Bytes encode_tlv(std::uint32_t tag, ByteView value);
// A constructed object whose value is the concatenation of already-encoded children.
Bytes encode_constructed(std::uint32_t tag, std::initializer_list<Bytes> children);
Bytes encode_constructed(std::uint32_t tag, const std::vector<Bytes>& children);

// Data object lists: a list of tag + expected length, no values (EMV Book 3, 5.4).
struct DolEntry {
  std::uint32_t tag = 0;
  std::size_t length = 0;
  bool operator==(const DolEntry&) const = default;
};

// kCorrupt when a tag or its length byte is cut short, or a tag is longer than kMaxTagBytes.
Result<std::vector<DolEntry>> parse_dol(ByteView dol);

// How a DOL value is fitted to the length the card asked for depends on the data format.
enum class DolFormat {
  kNumeric,            // 'n': BCD, right-aligned; truncated on the left, padded with leading 00
  kCompressedNumeric,  // 'cn': BCD, left-aligned; truncated on the right, padded with trailing FF
  kOther,              // 'b', 'an', 'ans': truncated on the right, padded with trailing 00
};

// The format of the terminal-sourced data objects that appear in DOLs (EMV Book 3, Annex A).
// Tags not in the table are kOther.
DolFormat dol_format(std::uint32_t tag);

// Concatenates the terminal's value for each entry, fitted to the requested length as EMV Book 3
// section 5.4 says (see DolFormat). A tag without a value, or a constructed tag, gives zeros of
// the requested length. The result is exactly the sum of the entries' lengths.
Bytes build_dol_data(const std::vector<DolEntry>& dol,
                     const std::map<std::uint32_t, Bytes>& values);

}  // namespace faregate::emv
