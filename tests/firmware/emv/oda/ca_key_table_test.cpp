#include "firmware/emv/oda/ca_key_table.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

using faregate::Bytes;
using faregate::ErrorCode;
using faregate::from_hex;
using faregate::to_hex;
namespace oda = faregate::emv::oda;

namespace {

const std::string kShippedKeys = std::string(FAREGATE_DATA_DIR) + "/emv_ca_keys.json";

constexpr oda::Rid kVisa{0xA0, 0x00, 0x00, 0x00, 0x03};
constexpr oda::Rid kMastercard{0xA0, 0x00, 0x00, 0x00, 0x04};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json shipped_json() { return nlohmann::json::parse(read_text(kShippedKeys)); }

// The shipped file's entry for one RID/index, as JSON.
nlohmann::json shipped_entry(std::string_view rid, std::string_view index) {
  const nlohmann::json doc = shipped_json();  // kept alive: the loop runs over a part of it
  for (const auto& entry : doc["keys"]) {
    if (entry["rid"].get<std::string>() == rid && entry["index"].get<std::string>() == index) {
      return entry;
    }
  }
  FAIL("no shipped entry " << rid << "/" << index);
  return {};
}

std::string file_with(const std::vector<nlohmann::json>& entries) {
  nlohmann::json doc;
  doc["format"] = "faregate-emv-ca-keys/1";
  doc["keys"] = entries;
  return doc.dump();
}

// Flips the lowest bit of the hex digit at `pos`.
std::string flip_hex_digit(std::string hex, std::size_t pos) {
  const char c = hex.at(pos);
  const int v = (c >= '0' && c <= '9') ? c - '0' : (c & ~0x20) - 'A' + 10;
  hex[pos] = "0123456789ABCDEF"[v ^ 1];
  return hex;
}

oda::CaPublicKey key_from(const nlohmann::json& entry) {
  oda::CaPublicKey key;
  auto rid = from_hex(entry["rid"].get<std::string>());
  auto index = from_hex(entry["index"].get<std::string>());
  auto modulus = from_hex(entry["modulus"].get<std::string>());
  auto exponent = from_hex(entry["exponent"].get<std::string>());
  auto checksum = from_hex(entry["checksum"].get<std::string>());
  REQUIRE(rid);
  REQUIRE(index);
  REQUIRE(modulus);
  REQUIRE(exponent);
  REQUIRE(checksum);
  std::copy(rid->begin(), rid->end(), key.rid.begin());
  key.index = (*index)[0];
  key.modulus = *modulus;
  key.exponent = *exponent;
  std::copy(checksum->begin(), checksum->end(), key.checksum.begin());
  return key;
}

}  // namespace

TEST_CASE("the shipped production CA keys all load and pass their published checksums") {
  auto table = oda::CaKeyTable::from_file(kShippedKeys);
  REQUIRE(table);
  CHECK(table->size() == 4);

  // The checksums as Visa and Mastercard publish them, typed in independently of the data file.
  struct Published {
    oda::Rid rid;
    std::uint8_t index;
    std::size_t modulus_bits;
    const char* checksum;
  };
  const Published published[] = {
      {kVisa, 0x08, 1408, "20d213126955de205adc2fd2822bd22de21cf9a8"},
      {kVisa, 0x09, 1984, "1ff80a40173f52d7d27e0f26a146a1c8ccb29046"},
      {kMastercard, 0x05, 1408, "ebfa0d5d06d8ce702da3eae890701d45e274c845"},
      {kMastercard, 0x06, 1984, "f910a1504d5ffb793d94f3b500765e1abcad72d9"},
  };
  for (const auto& p : published) {
    INFO(oda::describe_key_id(p.rid, p.index));
    const oda::CaPublicKey* key = table->find(p.rid, p.index);
    REQUIRE(key != nullptr);
    CHECK(key->modulus.size() * 8 == p.modulus_bits);
    CHECK(key->exponent == Bytes{0x03});
    CHECK(to_hex(key->checksum) == p.checksum);
    CHECK(to_hex(oda::ca_key_checksum(key->rid, key->index, key->modulus, key->exponent)) ==
          p.checksum);
    CHECK_FALSE(key->source.empty());
  }
}

TEST_CASE("a key whose modulus differs in one digit is refused, naming its RID and index") {
  const auto entry = shipped_entry("A000000004", "05");
  const std::string modulus = entry["modulus"];
  // (Not the last digit: an even modulus is refused for its shape before the checksum.)
  for (std::size_t pos : {std::size_t{0}, std::size_t{1}, modulus.size() / 2, modulus.size() - 2}) {
    auto bad = entry;
    bad["modulus"] = flip_hex_digit(modulus, pos);
    auto table = oda::CaKeyTable::from_json(file_with({shipped_entry("A000000003", "09"), bad}));
    INFO("digit " << pos);
    REQUIRE_FALSE(table);
    CHECK(table.error().code == ErrorCode::kCorrupt);
    CHECK_THAT(table.error().message, Catch::Contains("A000000004/05"));
    CHECK_THAT(table.error().message, Catch::Contains("checksum"));
  }
}

TEST_CASE("a key with a changed exponent or checksum is refused") {
  auto entry = shipped_entry("A000000003", "08");
  auto exponent = entry;
  exponent["exponent"] = "010001";
  auto result = oda::CaKeyTable::from_json(file_with({exponent}));
  REQUIRE_FALSE(result);
  CHECK(result.error().code == ErrorCode::kCorrupt);
  CHECK_THAT(result.error().message, Catch::Contains("A000000003/08"));

  auto checksum = entry;
  checksum["checksum"] = flip_hex_digit(entry["checksum"], 39);
  result = oda::CaKeyTable::from_json(file_with({checksum}));
  REQUIRE_FALSE(result);
  CHECK(result.error().code == ErrorCode::kCorrupt);

  // The key filed under another index fails too: the index is part of the checksum.
  auto index = entry;
  index["index"] = "07";
  result = oda::CaKeyTable::from_json(file_with({index}));
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message, Catch::Contains("A000000003/07"));
}

// proxmark3's client/resources/capk.txt carries, after the real A000000004/05, a second
// A000000004/05 whose modulus is that of Mastercard test key F8, with a checksum computed from
// that wrong modulus. The checksum cannot catch it (it was computed, not published); the
// duplicate slot does.
TEST_CASE("a second key for the same RID and index is refused") {
  const auto real = shipped_entry("A000000004", "05");
  nlohmann::json impostor = real;
  impostor["modulus"] =
      "A1F5E1C9BD8650BD43AB6EE56B891EF7459C0A24FA84F9127D1A6C79D4930F6DB1852E2510F18B61CD354DB8"
      "3A356BD190B88AB8DF04284D02A4204A7B6CB7C5551977A9B36379CA3DE1A08E69F301C95CC1C20506959275"
      "F41723DD5D2925290579E5A95B0DF6323FC8E9273D6F849198C4996209166D9BFC973C361CC826E1";
  impostor["checksum"] = "53D04903B496F59544A84309AF169251F2896874";
  // On its own the impostor "passes": a self-computed checksum proves nothing.
  auto alone = oda::CaKeyTable::from_json(file_with({impostor}));
  REQUIRE(alone);
  CHECK(alone->find(kMastercard, 0x05)->modulus.size() == 128);

  auto both = oda::CaKeyTable::from_json(file_with({real, impostor}));
  REQUIRE_FALSE(both);
  CHECK(both.error().code == ErrorCode::kConflict);
  CHECK_THAT(both.error().message, Catch::Contains("A000000004/05"));
}

TEST_CASE("keys added in code are checked like keys from the file") {
  oda::CaKeyTable table;
  auto key = key_from(shipped_entry("A000000004", "06"));

  auto corrupted = key;
  corrupted.modulus[100] ^= 0x10;
  auto added = table.add(corrupted);
  REQUIRE_FALSE(added);
  CHECK(added.error().code == ErrorCode::kCorrupt);
  CHECK_THAT(added.error().message, Catch::Contains("A000000004/06"));
  CHECK(table.size() == 0);

  REQUIRE(table.add(key));
  CHECK(table.size() == 1);
  CHECK(table.find(kMastercard, 0x06) != nullptr);
  CHECK(table.find(kMastercard, 0x05) == nullptr);
  CHECK(table.find(kVisa, 0x06) == nullptr);

  auto again = table.add(key);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == ErrorCode::kConflict);
  CHECK(table.size() == 1);
}

TEST_CASE("keys of the wrong shape are refused before their checksum is looked at") {
  auto base = key_from(shipped_entry("A000000004", "05"));
  auto with_fixed_checksum = [](oda::CaPublicKey k) {
    k.checksum = oda::ca_key_checksum(k.rid, k.index, k.modulus, k.exponent);
    return k;
  };

  oda::CaKeyTable table;
  auto even = base;
  even.modulus.back() &= 0xFE;
  CHECK(table.add(with_fixed_checksum(even)).error().code == ErrorCode::kInvalidArgument);

  auto leading_zero = base;
  leading_zero.modulus.front() = 0x00;
  CHECK(table.add(with_fixed_checksum(leading_zero)).error().code == ErrorCode::kInvalidArgument);

  auto too_short = base;
  too_short.modulus.resize(oda::kMinCaModulusBytes - 1);
  too_short.modulus.back() |= 1;
  CHECK(table.add(with_fixed_checksum(too_short)).error().code == ErrorCode::kInvalidArgument);

  auto too_long = base;
  too_long.modulus.resize(oda::kMaxCaModulusBytes + 1, 0x01);
  CHECK(table.add(with_fixed_checksum(too_long)).error().code == ErrorCode::kInvalidArgument);

  auto exponent = base;
  exponent.exponent = Bytes{0x05};
  CHECK(table.add(with_fixed_checksum(exponent)).error().code == ErrorCode::kInvalidArgument);

  CHECK(table.size() == 0);
}

TEST_CASE("malformed key files are refused with the position of the bad entry") {
  CHECK(oda::CaKeyTable::from_json("{").error().code == ErrorCode::kInvalidArgument);
  CHECK(oda::CaKeyTable::from_json("[]").error().code == ErrorCode::kInvalidArgument);
  CHECK(oda::CaKeyTable::from_json("{\"keys\": 3}").error().code == ErrorCode::kInvalidArgument);

  auto good = shipped_entry("A000000003", "09");
  auto check_refused = [&](nlohmann::json bad) {
    auto result = oda::CaKeyTable::from_json(file_with({good, bad}));
    REQUIRE_FALSE(result);
    CHECK(result.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(result.error().message, Catch::Contains("keys[1]"));
  };
  auto missing = shipped_entry("A000000003", "08");
  missing.erase("checksum");
  check_refused(missing);
  auto not_hex = shipped_entry("A000000003", "08");
  not_hex["modulus"] = "XYZ";
  check_refused(not_hex);
  auto short_rid = shipped_entry("A000000003", "08");
  short_rid["rid"] = "A0000003";
  check_refused(short_rid);
  auto number = shipped_entry("A000000003", "08");
  number["index"] = 8;
  check_refused(number);
  auto bad_date = shipped_entry("A000000003", "08");
  bad_date["expiry"] = "2024-02-30";
  check_refused(bad_date);
  check_refused(nlohmann::json::array());

  CHECK(oda::CaKeyTable::from_file("/nonexistent/emv_ca_keys.json").error().code == ErrorCode::kIo);
}

TEST_CASE("an expiry date in the key file is kept") {
  auto entry = shipped_entry("A000000003", "09");
  entry["expiry"] = "2028-12-31";
  auto table = oda::CaKeyTable::from_json(file_with({entry}));
  REQUIRE(table);
  const auto* key = table->find(kVisa, 0x09);
  REQUIRE(key != nullptr);
  REQUIRE(key->expiry.has_value());
  CHECK(*key->expiry == std::chrono::year_month_day{std::chrono::year(2028), std::chrono::December,
                                                    std::chrono::day(31)});
}
