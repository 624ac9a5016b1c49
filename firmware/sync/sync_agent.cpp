#include "firmware/sync/sync_agent.h"

#include <spdlog/spdlog.h>

#include "firmware/sync/frame_client.h"

namespace faregate::sync {

namespace v1 = faregate::v1;

namespace {
constexpr std::uint32_t kProtocolVersion = 1;

Error server_refused(const v1::ProtocolError& error) {
  return Error{ErrorCode::kProtocol,
               "back office refused the session: " + error.code() + " (" + error.message() + ")"};
}
}  // namespace

SyncAgent::SyncAgent(journal::Journal& journal, SyncOptions options)
    : journal_(journal), options_(std::move(options)) {}

Status SyncAgent::mark_acknowledged(std::uint64_t through_seq, SyncReport& report) {
  auto stats = journal_.stats();
  if (!stats) return std::unexpected(stats.error());
  if (through_seq > stats->last_seq) {
    // The back office claims taps this device never made: its store belongs to another device
    // history (restored backup, cloned device id). Marking would hide future taps, so refuse.
    return make_error(ErrorCode::kProtocol,
                      "back office acknowledged seq " + std::to_string(through_seq) +
                          " but this device has only journaled " + std::to_string(stats->last_seq));
  }
  if (through_seq > stats->synced_through) {
    if (auto s = journal_.mark_synced(through_seq); !s) return s;
  }
  report.acknowledged_through = std::max(report.acknowledged_through, through_seq);
  return {};
}

Status SyncAgent::apply_pushes(const v1::BatchAck& ack) {
  if (ack.has_deny_list()) {
    if (auto s = journal_.apply_deny_list(ack.deny_list()); !s) {
      // A delta from a version we do not have: keep deciding with the old list; the back office
      // sends a full list when our health report shows the version we hold.
      spdlog::warn("deny list {}->{} not applied: {}", ack.deny_list().from_version(),
                   ack.deny_list().to_version(), s.error().describe());
    }
  }
  if (ack.has_config()) {
    if (auto s = journal_.apply_config(ack.config()); !s) {
      spdlog::warn("config bundle v{} not applied: {}", ack.config().version(),
                   s.error().describe());
    }
  }
  return {};
}

Result<SyncReport> SyncAgent::sync_once() {
  SyncReport report;
  FrameClient client(options_.max_frame_bytes);
  if (auto s = client.connect(options_.host, options_.port, options_.connect_timeout); !s) {
    return std::unexpected(s.error());
  }

  auto stats = journal_.stats();
  if (!stats) return std::unexpected(stats.error());

  v1::ClientFrame hello_frame;
  auto* hello = hello_frame.mutable_hello();
  hello->set_device_id(journal_.device_id());
  hello->set_firmware_version(options_.firmware_version);
  hello->set_protocol_version(kProtocolVersion);
  hello->set_last_journaled_seq(stats->last_seq);
  if (auto s = client.send(hello_frame, options_.io_timeout); !s) return std::unexpected(s.error());

  auto answer = client.receive(options_.io_timeout);
  if (!answer) return std::unexpected(answer.error());
  if (answer->has_error()) return std::unexpected(server_refused(answer->error()));
  if (!answer->has_hello_ack()) {
    return make_error(ErrorCode::kProtocol, "back office answered Hello with something else");
  }
  const v1::HelloAck& hello_ack = answer->hello_ack();
  report.server_had_through = hello_ack.stored_through_seq();
  if (auto s = mark_acknowledged(hello_ack.stored_through_seq(), report); !s) {
    return std::unexpected(s.error());
  }
  std::size_t batch_taps = options_.batch_taps;
  if (hello_ack.max_batch_taps() != 0) {
    batch_taps = std::min<std::size_t>(batch_taps, hello_ack.max_batch_taps());
  }
  batch_taps = std::max<std::size_t>(batch_taps, 1);

  for (;;) {
    auto taps = journal_.unsynced(batch_taps);
    if (!taps) return std::unexpected(taps.error());
    if (taps->empty()) break;
    const std::uint64_t last_in_batch = taps->back().seq();

    v1::ClientFrame batch_frame;
    auto* batch = batch_frame.mutable_tap_batch();
    batch->mutable_taps()->Reserve(static_cast<int>(taps->size()));
    for (auto& tap : *taps) *batch->add_taps() = std::move(tap);
    if (auto s = client.send(batch_frame, options_.io_timeout); !s) {
      return std::unexpected(s.error());
    }
    report.taps_sent += static_cast<std::uint64_t>(batch->taps_size());
    ++report.batches;

    auto reply = client.receive(options_.io_timeout);
    if (!reply) return std::unexpected(reply.error());
    if (reply->has_error()) return std::unexpected(server_refused(reply->error()));
    if (!reply->has_batch_ack()) {
      return make_error(ErrorCode::kProtocol, "back office answered a TapBatch with something else");
    }
    const v1::BatchAck& ack = reply->batch_ack();
    report.inserted += ack.inserted();
    report.duplicates += ack.duplicates();
    report.conflicts += ack.conflicts();
    if (auto s = mark_acknowledged(ack.stored_through_seq(), report); !s) {
      return std::unexpected(s.error());
    }
    if (auto s = apply_pushes(ack); !s) return std::unexpected(s.error());
    if (ack.stored_through_seq() < last_in_batch) {
      // The back office stored the batch but its watermark did not reach it: it misses earlier
      // taps this journal no longer has (pruned after an earlier ack that the store then lost).
      // Sending the same batch again cannot help; stop and let an operator look.
      return make_error(ErrorCode::kProtocol,
                        "back office watermark stuck at " +
                            std::to_string(ack.stored_through_seq()) + " after a batch through " +
                            std::to_string(last_in_batch));
    }
  }

  auto after = journal_.stats();
  if (!after) return std::unexpected(after.error());
  v1::ClientFrame health_frame;
  auto* health = health_frame.mutable_health();
  health->set_journal_depth(after->unsynced);
  health->set_oldest_unsynced_utc_ms(after->oldest_unsynced_utc_ms);
  health->set_reader_status(options_.reader_status ? options_.reader_status() : "unknown");
  if (auto v = journal_.deny_list_version()) health->set_deny_list_version(*v);
  if (auto c = journal_.config()) health->set_config_version(c->version());
  health->set_device_time_utc_ms(options_.now_utc_ms ? options_.now_utc_ms() : 0);
  // Health is informative; a failure to send it does not undo a successful sync.
  if (auto s = client.send(health_frame, options_.io_timeout); !s) {
    spdlog::debug("health report not sent: {}", s.error().describe());
  }
  report.bytes_sent = client.bytes_sent();
  client.close();
  return report;
}

}  // namespace faregate::sync
