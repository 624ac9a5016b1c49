#pragma once
// sync::SyncAgent: sends the journal's unacknowledged taps to the back office and marks them
// synced only as far as the back office acknowledges (see proto/faregate/v1/sync.proto and
// docs/sync_protocol.md).
//
// One call to sync_once() is one session: connect (mutual TLS when options.tls is set), Hello,
// resume from the HelloAck watermark, a DeviceHealth (which tells the back office the deny-list
// and config versions this validator holds), TapBatches of at most batch_taps until the journal
// has nothing unsynced (one empty batch when there was nothing to send, so that the back office
// can attach what it has to push), apply every DenyListDelta and ConfigBundle pushed on the
// acks (each in one journal transaction: the gate keeps deciding with the previous version until
// the new one is whole), then, if an ack offered firmware and options.firmware is set, the image
// in FirmwareChunkRequests (resumed from the offset stored on disk, verified, installed to the
// inactive slot: firmware_download.h), a closing DeviceHealth, close.
//
// Memory stays bounded by one batch however large the backlog: the journal is paged by the
// acknowledged watermark, batch by batch. run() repeats sessions every sync interval and, after
// a failure, waits an exponentially growing delay with jitter, so that a fleet of validators does
// not hammer a back office that just came back. Runs on the caller's thread (the sync thread),
// never on the card thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/crypto.h"
#include "common/error.h"
#include "common/tls/tls_context.h"
#include "firmware/journal/journal.h"
#include "proto/framing.h"

namespace faregate::sync {

class FirmwareDownload;

struct SyncOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7450;
  // Taps per TapBatch, unless a ConfigBundle sets sync_batch_taps; never above the server's
  // HelloAck.max_batch_taps.
  std::size_t batch_taps = 500;
  // Between sessions in run(), unless a ConfigBundle sets sync_interval_seconds.
  std::chrono::milliseconds interval{30'000};
  // Backoff after failed sessions: the first retry after about `backoff_initial`, doubling up to
  // `backoff_max`, each with up to half of it added at random.
  std::chrono::milliseconds backoff_initial{1'000};
  std::chrono::milliseconds backoff_max{120'000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{15000};
  std::size_t max_frame_bytes = framing::kDefaultMaxFrameBytes;
  // The version the validator runs (from the image header when started by faregate-boot) and
  // its firmware rollout group, both sent in the Hello; the back office offers firmware to
  // validators of a group whose version differs from the group's offer.
  std::string firmware_version;
  std::string device_group;
  // Downloads and installs offered firmware (firmware_download.h). Null: offers are ignored.
  // Must outlive the agent.
  FirmwareDownload* firmware = nullptr;
  // Called on the sync thread once an offered image is installed and waits for its trial boot
  // (or was found already waiting): the validator should restart at a quiet moment.
  std::function<void(const std::string& version)> on_firmware_installed;
  // Mutual TLS: the device certificate and the pinned back-office CA. Null: plain TCP, for
  // development only (faregate-validator requires --insecure-dev for that).
  std::shared_ptr<const tls::ClientContext> tls;
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
  // Pushes applied in this session (version now held), 0 when none came.
  std::uint64_t deny_list_applied = 0;
  std::uint64_t config_applied = 0;
  // Firmware over the air in this session.
  std::uint64_t firmware_bytes = 0;    // image bytes received and stored
  std::string firmware_installed;      // version installed (or found waiting), else empty
  std::string firmware_refused;        // why an offered image was refused, else empty
};

// Exponential backoff with jitter ("equal jitter": half the base delay fixed, half at random),
// so that validators that failed together do not retry together.
class Backoff {
 public:
  // `uniform(bound)` returns a number in [0, bound); crypto::Drbg::uniform in production.
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
          std::function<std::uint64_t(std::uint64_t)> uniform);

  // The wait before the next attempt, after one more consecutive failure.
  std::chrono::milliseconds next_delay();
  // A success: the next failure starts from `initial` again.
  void reset() { failures_ = 0; }
  unsigned failures() const { return failures_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::function<std::uint64_t(std::uint64_t)> uniform_;
  unsigned failures_ = 0;
};

class SyncAgent {
 public:
  SyncAgent(journal::Journal& journal, SyncOptions options);

  // Errors: kUnavailable / kTimeout (network; the journal is untouched beyond what was acked),
  // kCrypto (TLS: the back office's certificate is not trusted, or it refused ours), kProtocol
  // (the back office broke the protocol or refused us: the reason is in the message).
  Result<SyncReport> sync_once();

  // Sessions until `wait` says stop: after a session, `wait(delay)` sleeps the sync interval (or
  // the backoff delay after a failure) and returns true when the validator is stopping. Jitter
  // comes from `jitter`. Logs each session's outcome.
  void run(const std::function<bool(std::chrono::milliseconds)>& wait, crypto::Drbg& jitter);

  // The interval and batch size in force: the pushed config's when it sets them, else the
  // options'.
  std::chrono::milliseconds interval();
  std::size_t batch_taps();

 private:
  Status mark_acknowledged(std::uint64_t through_seq, std::uint64_t& synced_through,
                           SyncReport& report);
  void apply_pushes(const faregate::v1::BatchAck& ack, SyncReport& report);
  template <typename Client>
  Status fetch_firmware(Client& client, const faregate::v1::FirmwareOffer& offer,
                        SyncReport& report);
  Result<faregate::v1::ClientFrame> health_frame();

  journal::Journal& journal_;
  SyncOptions options_;
};

}  // namespace faregate::sync
