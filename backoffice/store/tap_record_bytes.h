#pragma once
// Private to backoffice/store: what every TapStore backend does the same way with the taps it is
// given, so that the backends agree byte for byte. A record stored by one backend and resent to
// another (a network moving from SQLite to PostgreSQL) must compare equal, not as a conflict.

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "faregate/v1/tap.pb.h"

namespace faregate::store::detail {

// Seqs are uint64 in the protocol; both databases hold signed 64-bit integers.
inline constexpr std::uint64_t kMaxSeq =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// kInvalidArgument for an empty device_id, a tap of another device, seq 0 or beyond kMaxSeq.
Status check_batch(std::string_view device_id, std::span<const faregate::v1::TapRecord> taps);

// The bytes kept for each tap and compared on resend: a deterministic serialization, so the same
// record always gives the same bytes. kInvalidArgument if a tap does not serialize.
Result<std::vector<std::string>> serialize_batch(std::span<const faregate::v1::TapRecord> taps);

// kCorrupt (naming the device and seq) if the stored bytes do not parse.
Result<faregate::v1::TapRecord> parse_record(std::string_view bytes, std::string_view device_id,
                                             std::int64_t seq);
// The same into `record`, reusing what it holds (its strings' storage).
Status parse_record_into(std::string_view bytes, std::string_view device_id, std::int64_t seq,
                         faregate::v1::TapRecord& record);

// The inclusive last seq of [from_seq, from_seq + limit), clamped to kMaxSeq.
// Requires: limit >= 1 and from_seq <= kMaxSeq.
inline std::uint64_t last_seq_of_range(std::uint64_t from_seq, std::size_t limit) {
  return limit - 1 > kMaxSeq - from_seq ? kMaxSeq : from_seq + (limit - 1);
}

}  // namespace faregate::store::detail
