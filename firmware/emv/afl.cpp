#include "firmware/emv/afl.h"

#include <string>

namespace faregate::emv {

Result<std::vector<AflEntry>> parse_afl(ByteView afl) {
  if (afl.empty() || afl.size() % 4 != 0) {
    return make_error(ErrorCode::kCorrupt,
                      "AFL of " + std::to_string(afl.size()) + " bytes is not a multiple of 4");
  }
  std::vector<AflEntry> entries;
  std::size_t records = 0;
  for (std::size_t i = 0; i < afl.size(); i += 4) {
    const std::string where = "AFL entry " + std::to_string(i / 4 + 1) + ": ";
    const AflEntry e{static_cast<std::uint8_t>(afl[i] >> 3), afl[i + 1], afl[i + 2], afl[i + 3]};
    if ((afl[i] & 0x07) != 0 || e.sfi == 0 || e.sfi > 30) {
      return make_error(ErrorCode::kCorrupt, where + "bad SFI byte");
    }
    if (e.first_record == 0 || e.last_record < e.first_record || e.last_record == 0xFF) {
      return make_error(ErrorCode::kCorrupt, where + "bad record range");
    }
    const std::size_t count = e.last_record - e.first_record + 1u;
    if (e.oda_records > count) {
      return make_error(ErrorCode::kCorrupt, where + "more ODA records than records");
    }
    records += count;
    if (records > kMaxAflRecords) {
      return make_error(ErrorCode::kCorrupt,
                        "AFL lists more than " + std::to_string(kMaxAflRecords) + " records");
    }
    entries.push_back(e);
  }
  return entries;
}

}  // namespace faregate::emv
