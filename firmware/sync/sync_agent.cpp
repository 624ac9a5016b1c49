#include "firmware/sync/sync_agent.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "firmware/sync/firmware_download.h"
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

// ---- Backoff ----

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                 std::function<std::uint64_t(std::uint64_t)> uniform)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      uniform_(std::move(uniform)) {}

std::chrono::milliseconds Backoff::next_delay() {
  // initial * 2^failures, capped; the shift is bounded so that it cannot overflow.
  const unsigned doublings = std::min(failures_, 30u);
  const auto uncapped = initial_.count() * (std::int64_t{1} << doublings);
  const std::int64_t base = std::min<std::int64_t>(uncapped, max_.count());
  if (failures_ < 64) ++failures_;
  const std::int64_t half = base / 2;
  const auto random = static_cast<std::int64_t>(uniform_(static_cast<std::uint64_t>(half) + 1));
  return std::chrono::milliseconds(base - half + random);
}

// ---- SyncAgent ----

SyncAgent::SyncAgent(journal::Journal& journal, SyncOptions options)
    : journal_(journal), options_(std::move(options)) {}

std::chrono::milliseconds SyncAgent::interval() {
  if (auto config = journal_.config(); config && config->sync_interval_seconds() > 0) {
    return std::chrono::seconds(config->sync_interval_seconds());
  }
  return options_.interval;
}

std::size_t SyncAgent::batch_taps() {
  if (auto config = journal_.config(); config && config->sync_batch_taps() > 0) {
    return config->sync_batch_taps();
  }
  return options_.batch_taps;
}

Status SyncAgent::mark_acknowledged(std::uint64_t through_seq, std::uint64_t& synced_through,
                                     SyncReport& report) {
  // `synced_through` is this session's view of the journal's watermark, so that an ack costs
  // one small journal transaction and no scan of the backlog.
  if (through_seq > synced_through) {
    if (auto s = journal_.mark_synced(through_seq); !s) {
      if (s.error().code == ErrorCode::kInvalidArgument) {
        // The back office claims taps this device never made: its store belongs to another
        // device history (restored backup, cloned device id). Marking would hide future taps.
        return make_error(ErrorCode::kProtocol,
                          "back office acknowledged seq " + std::to_string(through_seq) +
                              " beyond what this device journaled (" + s.error().message + ")");
      }
      return s;
    }
    synced_through = through_seq;
  }
  report.acknowledged_through = std::max(report.acknowledged_through, through_seq);
  return {};
}

void SyncAgent::apply_pushes(const v1::BatchAck& ack, SyncReport& report) {
  // Each apply is one journal transaction: a validator that loses power in the middle reopens
  // with the previous version whole, and says so in its next DeviceHealth.
  if (ack.has_deny_list()) {
    const auto& delta = ack.deny_list();
    if (auto s = journal_.apply_deny_list(delta); !s) {
      // A delta from a version we do not hold: keep deciding with the list we have; the next
      // session's health report tells the back office our version, and it answers with what
      // fits (a full list if it no longer has the deltas).
      spdlog::warn("sync: deny list {} {}->{} not applied: {}", delta.full() ? "full" : "delta",
                   delta.from_version(), delta.to_version(), s.error().describe());
    } else {
      report.deny_list_applied = delta.to_version();
      spdlog::info("sync: deny list now at version {} ({}: {} added, {} removed)",
                   delta.to_version(), delta.full() ? "full list" : "delta", delta.added_size(),
                   delta.removed_size());
    }
  }
  if (ack.has_config()) {
    if (auto s = journal_.apply_config(ack.config()); !s) {
      spdlog::warn("sync: config bundle v{} not applied: {}", ack.config().version(),
                   s.error().describe());
    } else {
      report.config_applied = ack.config().version();
      spdlog::info("sync: config bundle v{} applied", ack.config().version());
    }
  }
}

template <typename Client>
Status SyncAgent::fetch_firmware(Client& client, const v1::FirmwareOffer& offer,
                                 SyncReport& report) {
  FirmwareDownload& download = *options_.firmware;
  auto decision = download.begin(offer);
  if (!decision) {
    // A malformed offer or a local disk problem: the taps are synced; firmware waits.
    report.firmware_refused = decision.error().describe();
    spdlog::warn("firmware: offer of {} not taken: {}", offer.version(), report.firmware_refused);
    return {};
  }
  if (*decision == OfferDecision::kAlreadyPending) {
    spdlog::info("firmware: {} is installed and waits for its trial boot", offer.version());
    report.firmware_installed = offer.version();
    if (options_.on_firmware_installed) options_.on_firmware_installed(offer.version());
    return {};
  }
  if (*decision != OfferDecision::kDownload) {
    spdlog::info("firmware: offer of {} ignored: {}", offer.version(), to_string(*decision));
    return {};
  }
  if (download.progress()->offset > 0) {
    spdlog::info("firmware: resuming {} at byte {} of {}", offer.version(),
                 download.progress()->offset, offer.image_size());
  } else {
    spdlog::info("firmware: downloading {} ({} bytes, security counter {})", offer.version(),
                 offer.image_size(), offer.security_counter());
  }
  while (auto request = download.next_request()) {
    v1::ClientFrame frame;
    *frame.mutable_firmware_chunk_request() = *request;
    if (auto s = client.send(frame, options_.io_timeout); !s) return s;
    auto reply = client.receive(options_.io_timeout);
    // A dropped connection leaves the durable part of the download for the next session.
    if (!reply) return std::unexpected(reply.error());
    if (reply->has_error()) return std::unexpected(server_refused(reply->error()));
    if (!reply->has_firmware_chunk()) {
      return make_error(ErrorCode::kProtocol,
                        "back office answered a FirmwareChunkRequest with something else");
    }
    if (auto s = download.accept(reply->firmware_chunk()); !s) {
      if (s.error().code == ErrorCode::kProtocol) {
        report.firmware_refused = s.error().message;
        spdlog::error("firmware: {} refused: {}; partial download discarded, the current image "
                      "keeps running",
                      offer.version(), s.error().message);
        return {};
      }
      return s;
    }
    report.firmware_bytes += reply->firmware_chunk().data().size();
  }
  auto installed = download.finish();
  if (!installed) {
    report.firmware_refused = installed.error().describe();
    if (installed.error().code == ErrorCode::kIo) {
      spdlog::error("firmware: {} not installed: {}", offer.version(), report.firmware_refused);
    } else {
      spdlog::error("firmware: {} refused: {}; the current image keeps running", offer.version(),
                    installed.error().message);
    }
    return {};
  }
  spdlog::info("firmware: {} installed in slot {} ({}); restart at the next quiet moment",
               offer.version(), update::slot_letter(installed->slot),
               installed->role == update::SlotRole::kPending ? "pending its trial boot" : "active");
  report.firmware_installed = offer.version();
  if (options_.on_firmware_installed) options_.on_firmware_installed(offer.version());
  return {};
}

Result<v1::ClientFrame> SyncAgent::health_frame() {
  auto stats = journal_.stats();
  if (!stats) return std::unexpected(stats.error());
  v1::ClientFrame frame;
  auto* health = frame.mutable_health();
  health->set_journal_depth(stats->unsynced);
  health->set_oldest_unsynced_utc_ms(stats->oldest_unsynced_utc_ms);
  health->set_reader_status(options_.reader_status ? options_.reader_status() : "unknown");
  if (auto v = journal_.deny_list_version()) health->set_deny_list_version(*v);
  if (auto c = journal_.config()) health->set_config_version(c->version());
  health->set_device_time_utc_ms(options_.now_utc_ms ? options_.now_utc_ms() : 0);
  return frame;
}

Result<SyncReport> SyncAgent::sync_once() {
  SyncReport report;
  FrameClient client(options_.max_frame_bytes, options_.tls);
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
  hello->set_device_group(options_.device_group);
  if (auto s = client.send(hello_frame, options_.io_timeout); !s) return std::unexpected(s.error());

  auto answer = client.receive(options_.io_timeout);
  if (!answer) return std::unexpected(answer.error());
  if (answer->has_error()) return std::unexpected(server_refused(answer->error()));
  if (!answer->has_hello_ack()) {
    return make_error(ErrorCode::kProtocol, "back office answered Hello with something else");
  }
  const v1::HelloAck& hello_ack = answer->hello_ack();
  report.server_had_through = hello_ack.stored_through_seq();
  std::uint64_t synced_through = stats->synced_through;
  if (auto s = mark_acknowledged(hello_ack.stored_through_seq(), synced_through, report); !s) {
    return std::unexpected(s.error());
  }
  std::size_t batch_size = batch_taps();
  if (hello_ack.max_batch_taps() != 0) {
    batch_size = std::min<std::size_t>(batch_size, hello_ack.max_batch_taps());
  }
  batch_size = std::max<std::size_t>(batch_size, 1);
  std::optional<v1::FirmwareOffer> offer;

  // The heartbeat goes first: it carries the deny-list and config versions this validator
  // holds, from which the back office decides what to push on the acks that follow.
  auto first_health = health_frame();
  if (!first_health) return std::unexpected(first_health.error());
  if (auto s = client.send(*first_health, options_.io_timeout); !s) {
    return std::unexpected(s.error());
  }

  for (;;) {
    auto taps = journal_.unsynced(batch_size);
    if (!taps) return std::unexpected(taps.error());
    // With nothing to send, one empty batch still gets an ack, and with it any push.
    if (taps->empty() && report.batches > 0) break;
    const std::uint64_t last_in_batch = taps->empty() ? 0 : taps->back().seq();

    v1::ClientFrame batch_frame;
    auto* batch = batch_frame.mutable_tap_batch();
    batch->mutable_taps()->Reserve(static_cast<int>(taps->size()));
    for (auto& tap : *taps) *batch->add_taps() = std::move(tap);
    taps->clear();
    if (auto s = client.send(batch_frame, options_.io_timeout); !s) {
      return std::unexpected(s.error());
    }
    report.taps_sent += static_cast<std::uint64_t>(batch->taps_size());
    ++report.batches;
    batch_frame.Clear();

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
    if (auto s = mark_acknowledged(ack.stored_through_seq(), synced_through, report); !s) {
      return std::unexpected(s.error());
    }
    apply_pushes(ack, report);
    if (ack.has_firmware()) offer = ack.firmware();
    if (ack.stored_through_seq() < last_in_batch) {
      // The back office stored the batch but its watermark did not reach it: it misses earlier
      // taps this journal no longer has (pruned after an earlier ack that the store then lost).
      // Sending the same batch again cannot help; stop and let an operator look.
      return make_error(ErrorCode::kProtocol,
                        "back office watermark stuck at " +
                            std::to_string(ack.stored_through_seq()) + " after a batch through " +
                            std::to_string(last_in_batch));
    }
    if (last_in_batch == 0) break;  // the empty batch: nothing more to send
  }

  if (offer && options_.firmware != nullptr) {
    if (auto s = fetch_firmware(client, *offer, report); !s) return std::unexpected(s.error());
  }

  // Health is informative; a failure to send it does not undo a successful sync.
  if (auto last_health = health_frame()) {
    if (auto s = client.send(*last_health, options_.io_timeout); !s) {
      spdlog::debug("health report not sent: {}", s.error().describe());
    }
  }
  report.bytes_sent = client.bytes_sent();
  client.close();
  return report;
}

void SyncAgent::run(const std::function<bool(std::chrono::milliseconds)>& wait,
                    crypto::Drbg& jitter) {
  Backoff backoff(options_.backoff_initial, options_.backoff_max,
                  [&jitter](std::uint64_t bound) { return jitter.uniform(bound); });
  for (;;) {
    auto report = sync_once();
    std::chrono::milliseconds next = interval();
    if (report) {
      if (report->taps_sent > 0) {
        spdlog::info("sync: sent {} taps in {} batches, back office holds through seq {}",
                     report->taps_sent, report->batches, report->acknowledged_through);
      }
      backoff.reset();
    } else {
      next = backoff.next_delay();
      spdlog::warn("sync failed ({} in a row), next attempt in {} ms: {}", backoff.failures(),
                   next.count(), report.error().describe());
    }
    if (wait(next)) return;
  }
}

}  // namespace faregate::sync
