#pragma once
// The terminal's table of certification authority (CA) public keys for offline data
// authentication, keyed by RID (the first 5 bytes of the AID) and CA public key index (tag 8F).
//
// Every key is checked against its published SHA-1 checksum (over RID || index || modulus ||
// exponent, as EMV Book 2's CA key management defines it) before it enters the table, whether
// it comes from the JSON data file or is added in code (the simulator's test CA). A
// transcription error in a 248-byte modulus is invisible to the eye; a public EMV tool shipped a
// corrupted Mastercard key for years. A key that fails its checksum is refused with an error
// naming its RID and index. The file format is described in docs/oda.md.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "common/bytes.h"
#include "common/error.h"
#include "firmware/emv/oda/sha1.h"

namespace faregate::emv::oda {

inline constexpr std::size_t kRidBytes = 5;
using Rid = std::array<std::uint8_t, kRidBytes>;

// EMV Book 2 limits: moduli up to 1984 bits (248 bytes); exponent 3 or 2^16 + 1. The lower
// bound is ours: no scheme uses less than 1024 bits any more, the simulator's test CA included.
inline constexpr std::size_t kMinCaModulusBytes = 128;
inline constexpr std::size_t kMaxCaModulusBytes = 248;

struct CaPublicKey {
  Rid rid{};
  std::uint8_t index = 0;
  Bytes modulus;   // big-endian, most significant byte first
  Bytes exponent;  // 03 or 01 00 01
  Sha1Digest checksum{};
  // Last day the key may be used; none = no expiry recorded (the operator removes keys as the
  // schemes announce their withdrawal).
  std::optional<std::chrono::year_month_day> expiry;
  std::string source;  // where the values were published, for humans
};

// SHA-1(RID || index || modulus || exponent), the published checksum of a CA key.
Sha1Digest ca_key_checksum(const Rid& rid, std::uint8_t index, ByteView modulus, ByteView exponent);

// "A000000004/05", for messages.
std::string describe_key_id(const Rid& rid, std::uint8_t index);

class CaKeyTable {
 public:
  CaKeyTable() = default;

  // Parses a key file (see docs/oda.md). Start-up configuration: the whole file is refused if
  // any entry is malformed, fails its checksum (kCorrupt, naming RID/index) or repeats a
  // RID/index (kConflict), so that a validator never runs on a silently partial table.
  static Result<CaKeyTable> from_json(std::string_view json_text);
  static Result<CaKeyTable> from_file(const std::filesystem::path& path);

  // Adds one key after checking its shape (modulus size and top byte, odd modulus, exponent 3
  // or 65537) and its checksum. Fails with kInvalidArgument, kCorrupt (checksum) or kConflict
  // (RID/index already present); the table is unchanged on failure.
  Status add(CaPublicKey key);

  // The key for RID/index, or nullptr. The pointer stays valid until the table changes.
  const CaPublicKey* find(const Rid& rid, std::uint8_t index) const;

  // Adds every key and revocation of `other` (same checks as add; on failure this table keeps
  // what was merged before the failing entry, so callers merge into a scratch copy first).
  Status merge(const CaKeyTable& other);

  // The CA's issuer certificate revocation list (EMV Book 2, 5.3 step 10): issuer
  // certificates the CA withdrew, identified by RID, CA key index and the certificate's serial
  // number. A card presenting one fails ODA with issuer_cert_revoked.
  void revoke_issuer_certificate(const Rid& rid, std::uint8_t index,
                                 const std::array<std::uint8_t, 3>& serial);
  bool issuer_certificate_revoked(const Rid& rid, std::uint8_t index,
                                  const std::array<std::uint8_t, 3>& serial) const;
  std::size_t revoked_count() const { return revoked_.size(); }

  std::size_t size() const { return keys_.size(); }

  // All keys in RID/index order.
  auto begin() const { return keys_.begin(); }
  auto end() const { return keys_.end(); }

 private:
  std::map<std::pair<Rid, std::uint8_t>, CaPublicKey> keys_;
  std::set<std::tuple<Rid, std::uint8_t, std::array<std::uint8_t, 3>>> revoked_;
};

}  // namespace faregate::emv::oda
