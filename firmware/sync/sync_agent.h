#pragma once
// sync::SyncAgent: sends the journal's unacknowledged taps to the back office and marks them
// synced only as far as the back office acknowledges (see proto/faregate/v1/sync.proto).
//
// One call to sync_once() is one session: connect, Hello, resume from the HelloAck watermark,
// send TapBatches of at most batch_taps until the journal has nothing unsynced, apply whatever the
// back office pushed on the acks (deny list, config), send a DeviceHealth, close. Memory stays
// bounded by one batch however large the backlog. Runs on the caller's thread (the sync thread),
// never on the card thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/error.h"
#include "firmware/journal/journal.h"
#include "proto/framing.h"

namespace faregate::sync {

struct SyncOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7450;
  std::size_t batch_taps = 500;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{15000};
  std::size_t max_frame_bytes = framing::kDefaultMaxFrameBytes;
  std::string firmware_version;
  // Reported in DeviceHealth ("ok", "no_reader", ...).
  std::function<std::string()> reader_status;
  // Source of the device time reported in DeviceHealth; defaults to 0 (unknown).
  std::function<std::int64_t()> now_utc_ms;
};

struct SyncReport {
  std::uint64_t server_had_through = 0;  // watermark in the HelloAck
  std::uint64_t acknowledged_through = 0;
  std::uint64_t taps_sent = 0;
  std::uint32_t batches = 0;
  std::uint64_t inserted = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t conflicts = 0;
  std::uint64_t bytes_sent = 0;
};

class SyncAgent {
 public:
  SyncAgent(journal::Journal& journal, SyncOptions options);

  // Errors: kUnavailable / kTimeout (network; the journal is untouched beyond what was acked),
  // kProtocol (the back office broke the protocol or refused us: the reason is in the message).
  Result<SyncReport> sync_once();

 private:
  Status mark_acknowledged(std::uint64_t through_seq, SyncReport& report);
  Status apply_pushes(const faregate::v1::BatchAck& ack);

  journal::Journal& journal_;
  SyncOptions options_;
};

}  // namespace faregate::sync
