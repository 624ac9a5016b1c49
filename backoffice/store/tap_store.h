#pragma once
// store::TapStore: the back office's durable record of every tap every validator sent. The same
// contract holds for every backend (sqlite_tap_store.h, postgresql_tap_store.h; open_tap_store()
// in tap_store_factory.h picks one) and the same tests run against each
// (tests/backoffice/store/tap_store_contract_test.cpp).
//
// Contract:
// - (device_id, seq) is unique. Storing a tap already held with identical content is a
//   duplicate: counted, not stored again. A tap whose (device_id, seq) is held with different
//   content is a conflict: kept aside in a conflict table with both versions, reported, and the
//   original is never overwritten.
// - store_batch is all-or-nothing: when it returns, the whole batch is durable; on error nothing
//   of it is.
// - stored_through(device) is the highest seq N such that taps 1..N of that device are all held.
//   It is what HelloAck and BatchAck report.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "faregate/v1/tap.pb.h"

namespace faregate::store {

struct BatchOutcome {
  std::uint64_t stored_through_seq = 0;
  std::uint32_t inserted = 0;
  std::uint32_t duplicates = 0;
  std::uint32_t conflicts = 0;
};

struct DeviceSummary {
  std::string device_id;
  std::uint64_t stored_through_seq = 0;  // contiguous watermark
  std::uint64_t max_seq = 0;             // highest seq held
  std::uint64_t tap_count = 0;
  std::uint64_t missing = 0;             // seqs below max_seq not held (gaps)
};

struct Conflict {
  std::string device_id;
  std::uint64_t seq = 0;
  faregate::v1::TapRecord held;      // what the store kept
  faregate::v1::TapRecord received;  // what arrived later with the same (device_id, seq)
  std::int64_t received_at_utc_ms = 0;
};

class TapStore {
 public:
  virtual ~TapStore() = default;

  // Stores taps of one device. Requires: every tap's device_id equals device_id (the ingest
  // server enforces it; the store refuses a mismatch with kInvalidArgument) and seq >= 1.
  virtual Result<BatchOutcome> store_batch(std::string_view device_id,
                                           std::span<const faregate::v1::TapRecord> taps) = 0;

  virtual Result<std::uint64_t> stored_through(std::string_view device_id) = 0;
  virtual Result<std::uint64_t> tap_count() = 0;
  virtual Result<std::vector<DeviceSummary>> device_summaries() = 0;
  virtual Result<std::vector<Conflict>> conflicts() = 0;
  // Taps of one device with seq in [from_seq, from_seq + limit), ascending.
  virtual Result<std::vector<faregate::v1::TapRecord>> taps_of_device(std::string_view device_id,
                                                                      std::uint64_t from_seq,
                                                                      std::size_t limit) = 0;
  // The same taps as taps_of_device, read into `buffer`: returns n, the number found, and leaves
  // them in buffer[0..n). buffer is grown when it holds fewer than n records and never shrunk;
  // the records past n are stale. Reading page after page into one buffer reuses its records
  // instead of allocating each anew. On error the buffer's contents are unspecified.
  // The default reads through taps_of_device; a backend may read in place.
  virtual Result<std::size_t> read_taps_of_device(std::string_view device_id, std::uint64_t from_seq,
                                                  std::size_t limit,
                                                  std::vector<faregate::v1::TapRecord>& buffer) {
    auto taps = taps_of_device(device_id, from_seq, limit);
    if (!taps) return std::unexpected(taps.error());
    const std::size_t n = taps->size();
    if (buffer.size() < n) buffer.resize(n);
    for (std::size_t i = 0; i < n; ++i) buffer[i] = std::move((*taps)[i]);
    return n;
  }
};

}  // namespace faregate::store
