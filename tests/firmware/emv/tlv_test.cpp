// BER-TLV decoding of hostile card data and encoding for the simulator (EMV Book 3, Annex B),
// and data object lists (EMV Book 3, 5.4).
#include <catch2/catch.hpp>

#include <memory>

#include "firmware/emv/tlv.h"

using namespace faregate;
using namespace faregate::emv;

namespace {

Bytes hex(const char* h) { return from_hex(h).value(); }

// parse_tlv's views point into the buffer it parsed, so the buffer travels with the result.
struct Parsed {
  std::unique_ptr<Bytes> data;
  Result<std::vector<Tlv>> result;
  explicit operator bool() const { return result.has_value(); }
  const std::vector<Tlv>& operator*() const { return *result; }
  const std::vector<Tlv>* operator->() const { return &*result; }
  const Error& error() const { return result.error(); }
};

Parsed parse_hex(const char* h) {
  auto data = std::make_unique<Bytes>(hex(h));
  auto result = parse_tlv(*data);
  return {std::move(data), std::move(result)};
}

}  // namespace

TEST_CASE("a primitive object with a two-byte tag is decoded") {
  const Bytes data = hex("9F3602002A");
  auto tlv = parse_tlv(data);
  REQUIRE(tlv);
  REQUIRE(tlv->size() == 1);
  CHECK((*tlv)[0].tag == 0x9F36);
  CHECK(to_hex((*tlv)[0].value) == "002a");
  CHECK_FALSE((*tlv)[0].constructed());
  CHECK((*tlv)[0].children.empty());
}

TEST_CASE("three-byte tags are decoded and a fourth tag byte is refused") {
  auto three = parse_hex("DF810101AA");
  REQUIRE(three);
  CHECK((*three)[0].tag == 0xDF8101);
  CHECK(to_hex((*three)[0].value) == "aa");
  // BF0C: multi-byte tag whose first byte is constructed.
  auto bf0c = parse_hex("BF0C03" "5A0111");
  REQUIRE(bf0c);
  CHECK((*bf0c)[0].tag == 0xBF0C);
  CHECK((*bf0c)[0].constructed());
  auto four = parse_hex("DF81818101AA");
  REQUIRE_FALSE(four);
  CHECK(four.error().code == ErrorCode::kCorrupt);
  CHECK(four.error().message.find("tag longer") != std::string::npos);
}

TEST_CASE("long-form lengths 81 and 82 are read; 83, 84 and indefinite 80 are refused") {
  Bytes v81 = hex("5A8180");
  v81.insert(v81.end(), 0x80, 0x11);
  auto a = parse_tlv(v81);
  REQUIRE(a);
  CHECK((*a)[0].value.size() == 0x80);

  Bytes v82 = hex("9F4B820100");
  v82.insert(v82.end(), 0x100, 0x22);
  auto b = parse_tlv(v82);
  REQUIRE(b);
  CHECK((*b)[0].tag == 0x9F4B);
  CHECK((*b)[0].value.size() == 0x100);

  Bytes v83 = hex("5A83000001");
  v83.push_back(0xAA);
  auto c = parse_tlv(v83);
  REQUIRE_FALSE(c);
  CHECK(c.error().message.find("long-form length of 3 bytes") != std::string::npos);
  CHECK_FALSE(parse_hex("5A8400000001AA"));
  auto indefinite = parse_hex("70805A01110000");
  REQUIRE_FALSE(indefinite);
  CHECK(indefinite.error().message.find("indefinite") != std::string::npos);
}

TEST_CASE("tag 57 announcing 48 bytes with fewer behind it is refused, even nested") {
  // 57 30 followed by 16 bytes: the case that overflowed real readers.
  Bytes data = hex("5730");
  data.insert(data.end(), 16, 0x42);
  auto tlv = parse_tlv(data);
  REQUIRE_FALSE(tlv);
  CHECK(tlv.error().code == ErrorCode::kCorrupt);
  CHECK(tlv.error().message == "length 48 runs past the end (16 bytes left) at offset 0");

  // Inside a record template whose own length is right: the nested length is checked against
  // the template's end, not the buffer's.
  Bytes inner = hex("5730");
  inner.insert(inner.end(), 16, 0x42);
  Bytes record = encode_tlv(0x70, inner);
  record.insert(record.end(), 64, 0x00);  // bytes past the template must not rescue it
  auto nested = parse_tlv(record);
  REQUIRE_FALSE(nested);
  CHECK(nested.error().message.find("length 48") != std::string::npos);
  CHECK(nested.error().message.find("offset 2") != std::string::npos);
}

TEST_CASE("a length that runs one byte past the end is refused, one that ends exactly is read") {
  CHECK_FALSE(parse_hex("5A03AABB"));
  auto exact = parse_hex("5A03AABBCC");
  REQUIRE(exact);
  CHECK((*exact)[0].value.size() == 3);
  CHECK_FALSE(parse_hex("5A8203"));          // long-form length cut short
  CHECK_FALSE(parse_hex("5A81"));
  CHECK_FALSE(parse_hex("5A"));              // length missing
  CHECK_FALSE(parse_hex("9F"));              // tag cut short
  CHECK_FALSE(parse_hex("70035A0511"));      // child overruns its parent
}

TEST_CASE("nested templates are parsed and find searches them depth first") {
  const Bytes fci = encode_constructed(
      0x6F, {encode_tlv(0x84, as_bytes("2PAY.SYS.DDF01")),
             encode_constructed(
                 0xA5, {encode_constructed(
                           0xBF0C, {encode_constructed(0x61, {encode_tlv(0x4F, hex("A0000000031010")),
                                                              encode_tlv(0x87, hex("01"))}),
                                    encode_constructed(0x61, {encode_tlv(0x4F, hex("A0000000041010"))})})})});
  auto tlv = parse_tlv(fci);
  REQUIRE(tlv);
  REQUIRE(tlv->size() == 1);
  const Tlv* aid = find_tag(*tlv, 0x4F);
  REQUIRE(aid != nullptr);
  CHECK(to_hex(aid->value) == "a0000000031010");  // the first in document order
  const Tlv* directory = (*tlv)[0].find(0xBF0C);
  REQUIRE(directory != nullptr);
  CHECK(directory->children.size() == 2);
  CHECK(to_hex(directory->children[1].find(0x4F)->value) == "a0000000041010");
  CHECK(find_tag(*tlv, 0x5A) == nullptr);
  CHECK((*tlv)[0].find(0x6F) == nullptr);  // find looks below, not at the node itself
}

TEST_CASE("nesting deeper than the limit is refused, nesting at the limit is read") {
  Bytes too_deep = encode_tlv(0x5A, hex("11"));
  for (int i = 0; i < kMaxTlvDepth + 1; ++i) too_deep = encode_tlv(0x70, too_deep);
  auto tlv = parse_tlv(too_deep);
  REQUIRE_FALSE(tlv);
  CHECK(tlv.error().message.find("nesting deeper") != std::string::npos);

  Bytes at_limit = encode_tlv(0x5A, hex("11"));
  for (int i = 0; i < kMaxTlvDepth; ++i) at_limit = encode_tlv(0x70, at_limit);
  auto ok = parse_tlv(at_limit);
  REQUIRE(ok);
  REQUIRE(find_tag(*ok, 0x5A) != nullptr);
  CHECK(to_hex(find_tag(*ok, 0x5A)->value) == "11");
}

TEST_CASE("00 and FF padding before, between and after objects is skipped") {
  auto tlv = parse_hex("00FF5A0111FFFF9F360200010000FF");
  REQUIRE(tlv);
  REQUIRE(tlv->size() == 2);
  CHECK((*tlv)[0].tag == 0x5A);
  CHECK((*tlv)[1].tag == 0x9F36);
  CHECK(to_hex((*tlv)[1].value) == "0001");
  // Padding inside a template too.
  auto nested = parse_hex("7006" "00" "5A0122" "FF00");
  REQUIRE(nested);
  REQUIRE((*nested)[0].children.size() == 1);
  auto only_padding = parse_hex("0000FFFF");
  REQUIRE(only_padding);
  CHECK(only_padding->empty());
}

TEST_CASE("encode then parse gives back tags and values for every length form") {
  for (std::size_t len : {0u, 1u, 127u, 128u, 255u, 256u, 1000u, 65535u}) {
    INFO("length " << len);
    Bytes value(len);
    for (std::size_t i = 0; i < len; ++i) value[i] = static_cast<std::uint8_t>(i * 7);
    for (std::uint32_t tag : {0x5Au, 0x9F4Bu, 0xDF8101u}) {
      const Bytes encoded = encode_tlv(tag, value);
      auto tlv = parse_tlv(encoded);
      REQUIRE(tlv);
      REQUIRE(tlv->size() == 1);
      CHECK((*tlv)[0].tag == tag);
      CHECK(Bytes((*tlv)[0].value.begin(), (*tlv)[0].value.end()) == value);
    }
  }
  CHECK(to_hex(encode_length(0x7F)) == "7f");
  CHECK(to_hex(encode_length(0x80)) == "8180");
  CHECK(to_hex(encode_length(0x100)) == "820100");
  CHECK(to_hex(encode_tag(0xBF0C)) == "bf0c");
  CHECK(to_hex(encode_tag(0xDF8101)) == "df8101");
  // A constructed round trip keeps the structure.
  const Bytes record = encode_constructed(0x70, {encode_tlv(0x5A, hex("4761739001010010")),
                                                 encode_tlv(0x5F24, hex("301231"))});
  CHECK(to_hex(record) == "70105a0847617390010100105f2403301231");
  auto parsed = parse_tlv(record);
  REQUIRE(parsed);
  CHECK((*parsed)[0].children.size() == 2);
}

TEST_CASE("a DOL is parsed into tags and lengths, and a cut-short DOL is refused") {
  // A typical Visa PDOL: TTQ, amount, other amount, country, TVR, currency, date, type, UN.
  auto dol = parse_dol(hex("9F66049F02069F03069F1A0295055F2A029A039C019F3704"));
  REQUIRE(dol);
  REQUIRE(dol->size() == 9);
  CHECK((*dol)[0] == DolEntry{0x9F66, 4});
  CHECK((*dol)[4] == DolEntry{0x95, 5});
  CHECK((*dol)[8] == DolEntry{0x9F37, 4});
  auto empty = parse_dol({});
  REQUIRE(empty);
  CHECK(empty->empty());
  CHECK_FALSE(parse_dol(hex("9F66")));    // length missing
  CHECK_FALSE(parse_dol(hex("9F")));      // tag cut short
  CHECK_FALSE(parse_dol(hex("DF818101")));  // four-byte tag
}

TEST_CASE("DOL data is padded and truncated per format as EMV Book 3 says") {
  const std::vector<DolEntry> dol = {{0x9F02, 6}, {0x9F37, 4}, {0x9F66, 4}, {0x9F4E, 3},
                                     {0x9A, 2},   {0x5A, 10},  {0x9F03, 2}, {0x5F2D, 1},
                                     {0x70, 2}};
  const std::map<std::uint32_t, Bytes> values = {
      {0x9F02, hex("0250")},                // n, too short: zeros on the left
      {0x9F37, hex("0102030405")},          // b, too long: leftmost bytes kept
      {0x9F66, hex("36000000")},            // b, exact
      {0x9A, hex("261231")},                // n, too long: rightmost bytes kept
      {0x5A, hex("4761739001010010")},      // cn, too short: F padding on the right
      {0x9F03, hex("000000001234")},        // n, too long: rightmost bytes kept
      {0x5F2D, hex("656E")},                // an, too long: leftmost kept
      {0x70, hex("AABB")},                  // constructed: zeros whatever the value
  };                                        // 9F4E unknown: zeros
  CHECK(to_hex(build_dol_data(dol, values)) ==
        "000000000250" "01020304" "36000000" "000000" "1231" "4761739001010010ffff" "1234" "65"
        "0000");
  CHECK(dol_format(0x9F02) == DolFormat::kNumeric);
  CHECK(dol_format(0x5A) == DolFormat::kCompressedNumeric);
  CHECK(dol_format(0x9F37) == DolFormat::kOther);
  CHECK(build_dol_data({}, values).empty());
}
