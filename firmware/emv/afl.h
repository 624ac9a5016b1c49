#pragma once
// The Application File Locator (tag 94, EMV Book 3, 10.2): which records the terminal reads
// after GET PROCESSING OPTIONS, and which of them feed offline data authentication.
// Each four-byte entry: SFI << 3, first record, last record, number of records (from the
// first) that are part of the static data to be authenticated.

#include <cstdint>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"

namespace faregate::emv {

struct AflEntry {
  std::uint8_t sfi = 0;           // 1..30
  std::uint8_t first_record = 0;  // 1..254
  std::uint8_t last_record = 0;   // >= first_record
  std::uint8_t oda_records = 0;   // <= last - first + 1
  bool operator==(const AflEntry&) const = default;
};

// At most this many records in all: a card could otherwise make the validator read 30 x 254
// records and blow the tap budget. Real transit cards list fewer than ten.
inline constexpr std::size_t kMaxAflRecords = 16;

// kCorrupt (with the entry number and what is wrong) unless the AFL is a non-empty multiple of
// four bytes whose entries have SFI 1..30 with the low three bits of byte 1 clear, 1 <= first
// <= last, an ODA count no larger than the range, and kMaxAflRecords records at most in all.
Result<std::vector<AflEntry>> parse_afl(ByteView afl);

}  // namespace faregate::emv
