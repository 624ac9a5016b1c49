#include "firmware/emv/oda/ca_key_table.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/crypto.h"

namespace faregate::emv::oda {

namespace {

using nlohmann::json;

std::unexpected<Error> invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

// A string member as hex bytes of an exact or bounded size.
Result<Bytes> hex_field(const json& entry, const char* name, std::size_t min_bytes,
                        std::size_t max_bytes) {
  const auto it = entry.find(name);
  if (it == entry.end() || !it->is_string()) {
    return invalid(std::string("missing string field '") + name + "'");
  }
  auto bytes = from_hex(it->get_ref<const std::string&>());
  if (!bytes) return invalid(std::string("field '") + name + "': " + bytes.error().message);
  if (bytes->size() < min_bytes || bytes->size() > max_bytes) {
    return invalid(std::string("field '") + name + "' has " + std::to_string(bytes->size()) +
                   " bytes, expected " + std::to_string(min_bytes) +
                   (min_bytes == max_bytes ? "" : ".." + std::to_string(max_bytes)));
  }
  return bytes;
}

// "YYYY-MM-DD", a real calendar date.
std::optional<std::chrono::year_month_day> parse_iso_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto number = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    int value = 0;
    const char* first = text.data() + pos;
    const char* last = first + len;
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr != last) return std::nullopt;
    return value;
  };
  const auto y = number(0, 4);
  const auto m = number(5, 2);
  const auto d = number(8, 2);
  if (!y || !m || !d) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(*y),
                                         std::chrono::month(static_cast<unsigned>(*m)),
                                         std::chrono::day(static_cast<unsigned>(*d))};
  if (!date.ok()) return std::nullopt;
  return date;
}

Result<CaPublicKey> parse_entry(const json& entry) {
  if (!entry.is_object()) return invalid("a key entry is not an object");
  CaPublicKey key;
  auto rid = hex_field(entry, "rid", kRidBytes, kRidBytes);
  if (!rid) return std::unexpected(rid.error());
  std::copy(rid->begin(), rid->end(), key.rid.begin());
  auto index = hex_field(entry, "index", 1, 1);
  if (!index) return std::unexpected(index.error());
  key.index = (*index)[0];

  const std::string id = describe_key_id(key.rid, key.index);
  auto modulus = hex_field(entry, "modulus", kMinCaModulusBytes, kMaxCaModulusBytes);
  if (!modulus) return with_context(modulus.error(), "CA key " + id);
  key.modulus = std::move(*modulus);
  auto exponent = hex_field(entry, "exponent", 1, 3);
  if (!exponent) return with_context(exponent.error(), "CA key " + id);
  key.exponent = std::move(*exponent);
  auto checksum = hex_field(entry, "checksum", kSha1Bytes, kSha1Bytes);
  if (!checksum) return with_context(checksum.error(), "CA key " + id);
  std::copy(checksum->begin(), checksum->end(), key.checksum.begin());

  if (const auto it = entry.find("expiry"); it != entry.end() && !it->is_null()) {
    if (!it->is_string()) return invalid("CA key " + id + ": 'expiry' is not a string");
    key.expiry = parse_iso_date(it->get_ref<const std::string&>());
    if (!key.expiry) return invalid("CA key " + id + ": 'expiry' is not a YYYY-MM-DD date");
  }
  if (const auto it = entry.find("source"); it != entry.end() && it->is_string()) {
    key.source = it->get<std::string>();
  }
  return key;
}

}  // namespace

Sha1Digest ca_key_checksum(const Rid& rid, std::uint8_t index, ByteView modulus,
                           ByteView exponent) {
  return sha1({ByteView(rid), ByteView(&index, 1), modulus, exponent});
}

std::string describe_key_id(const Rid& rid, std::uint8_t index) {
  std::string out = to_hex(rid) + "/" + to_hex(ByteView(&index, 1));
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Status CaKeyTable::add(CaPublicKey key) {
  const std::string id = describe_key_id(key.rid, key.index);
  if (key.modulus.size() < kMinCaModulusBytes || key.modulus.size() > kMaxCaModulusBytes) {
    return invalid("CA key " + id + ": modulus of " + std::to_string(key.modulus.size()) +
                   " bytes is outside " + std::to_string(kMinCaModulusBytes) + ".." +
                   std::to_string(kMaxCaModulusBytes));
  }
  if (key.modulus.front() == 0 || (key.modulus.back() & 1) == 0) {
    return invalid("CA key " + id + ": modulus has a leading zero byte or is even");
  }
  const bool exponent_3 = key.exponent == Bytes{0x03};
  const bool exponent_65537 = key.exponent == Bytes{0x01, 0x00, 0x01};
  if (!exponent_3 && !exponent_65537) {
    return invalid("CA key " + id + ": exponent must be 03 or 010001");
  }
  const Sha1Digest computed = ca_key_checksum(key.rid, key.index, key.modulus, key.exponent);
  if (!crypto::equal_constant_time(computed, key.checksum)) {
    return make_error(ErrorCode::kCorrupt, "CA key " + id + " fails its checksum (published " +
                                               to_hex(key.checksum) + ", computed " +
                                               to_hex(computed) + "): key refused");
  }
  const auto slot = std::make_pair(key.rid, key.index);
  if (keys_.contains(slot)) {
    return make_error(ErrorCode::kConflict, "CA key " + id + " is already in the table");
  }
  keys_.emplace(slot, std::move(key));
  return {};
}

const CaPublicKey* CaKeyTable::find(const Rid& rid, std::uint8_t index) const {
  const auto it = keys_.find(std::make_pair(rid, index));
  return it == keys_.end() ? nullptr : &it->second;
}

Status CaKeyTable::merge(const CaKeyTable& other) {
  for (const auto& [slot, key] : other.keys_) {
    if (auto added = add(key); !added) return added;
  }
  revoked_.insert(other.revoked_.begin(), other.revoked_.end());
  return {};
}

void CaKeyTable::revoke_issuer_certificate(const Rid& rid, std::uint8_t index,
                                           const std::array<std::uint8_t, 3>& serial) {
  revoked_.emplace(rid, index, serial);
}

bool CaKeyTable::issuer_certificate_revoked(const Rid& rid, std::uint8_t index,
                                            const std::array<std::uint8_t, 3>& serial) const {
  return revoked_.contains(std::make_tuple(rid, index, serial));
}

Result<CaKeyTable> CaKeyTable::from_json(std::string_view json_text) {
  const json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid("CA key file is not valid JSON");
  if (!doc.is_object()) return invalid("CA key file must be a JSON object");
  const auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) return invalid("CA key file has no 'keys' array");

  CaKeyTable table;
  std::size_t position = 0;
  for (const json& entry : *keys) {
    auto key = parse_entry(entry);
    if (!key) return with_context(key.error(), "keys[" + std::to_string(position) + "]");
    if (auto added = table.add(std::move(*key)); !added) {
      return with_context(added.error(), "keys[" + std::to_string(position) + "]");
    }
    ++position;
  }
  // Optional: the issuer certificates the CAs revoked.
  const auto revoked = doc.find("revoked_issuer_certificates");
  if (revoked != doc.end()) {
    if (!revoked->is_array()) return invalid("'revoked_issuer_certificates' must be an array");
    position = 0;
    for (const json& entry : *revoked) {
      const std::string where = "revoked_issuer_certificates[" + std::to_string(position++) + "]";
      auto rid = hex_field(entry, "rid", kRidBytes, kRidBytes);
      auto index = hex_field(entry, "index", 1, 1);
      auto serial = hex_field(entry, "serial", 3, 3);
      if (!rid) return with_context(rid.error(), where);
      if (!index) return with_context(index.error(), where);
      if (!serial) return with_context(serial.error(), where);
      Rid r{};
      std::ranges::copy(*rid, r.begin());
      std::array<std::uint8_t, 3> s{};
      std::ranges::copy(*serial, s.begin());
      table.revoke_issuer_certificate(r, (*index)[0], s);
    }
  }
  return table;
}

Result<CaKeyTable> CaKeyTable::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "cannot open CA key file " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::kIo, "cannot read CA key file " + path.string());
  auto table = from_json(text.str());
  if (!table) return with_context(table.error(), path.string());
  return table;
}

}  // namespace faregate::emv::oda
