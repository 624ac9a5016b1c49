#include "backoffice/store/tap_record_bytes.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <climits>

namespace faregate::store::detail {

namespace v1 = faregate::v1;

namespace {

bool serialize_deterministic(const v1::TapRecord& tap, std::string& out) {
  out.clear();
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    // Map ordering and similar freedoms of the encoder are pinned down.
    coded.SetSerializationDeterministic(true);
    if (!tap.SerializeToCodedStream(&coded)) return false;
    if (coded.HadError()) return false;
  }  // the CodedOutputStream trims `out` to the bytes written when it goes away
  return true;
}

}  // namespace

Status check_batch(std::string_view device_id, std::span<const v1::TapRecord> taps) {
  if (device_id.empty()) return make_error(ErrorCode::kInvalidArgument, "empty device_id");
  for (const auto& tap : taps) {
    if (tap.device_id() != device_id) {
      return make_error(ErrorCode::kInvalidArgument, "tap seq " + std::to_string(tap.seq()) +
                                                         " belongs to device '" + tap.device_id() +
                                                         "', not '" + std::string(device_id) + "'");
    }
    if (tap.seq() == 0 || tap.seq() > kMaxSeq) {
      return make_error(ErrorCode::kInvalidArgument,
                        "tap seq " + std::to_string(tap.seq()) + " is out of range");
    }
  }
  return {};
}

Result<std::vector<std::string>> serialize_batch(std::span<const v1::TapRecord> taps) {
  std::vector<std::string> records(taps.size());
  for (std::size_t i = 0; i < taps.size(); ++i) {
    if (!serialize_deterministic(taps[i], records[i])) {
      return make_error(ErrorCode::kInvalidArgument,
                        "tap seq " + std::to_string(taps[i].seq()) + " does not serialize");
    }
  }
  return records;
}

Status parse_record_into(std::string_view bytes, std::string_view device_id, std::int64_t seq,
                         v1::TapRecord& record) {
  // ParseFromArray clears the record first; cleared string fields keep their storage.
  if (bytes.size() > static_cast<std::size_t>(INT_MAX) ||
      !record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return make_error(ErrorCode::kCorrupt, "stored record of " + std::string(device_id) + " seq " +
                                               std::to_string(seq) + " does not parse");
  }
  return {};
}

Result<v1::TapRecord> parse_record(std::string_view bytes, std::string_view device_id,
                                   std::int64_t seq) {
  v1::TapRecord record;
  if (auto s = parse_record_into(bytes, device_id, seq, record); !s) return std::unexpected(s.error());
  return record;
}

}  // namespace faregate::store::detail
