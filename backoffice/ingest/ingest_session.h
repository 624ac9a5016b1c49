#pragma once
// Private to backoffice/ingest: one validator connection and its protocol state machine.
//
// Session is a template on the stream: a plain socket (development) or tls::TlsStream (mbedTLS on
// the same socket). With TLS the session first runs the handshake, bounded by
// tls_handshake_timeout, and takes the device id from the verified certificate. The stream is
// touched only in start(), read(), write(), half_close() and close(); everything else runs on the
// network thread and never blocks.
//
// The session is half-duplex on purpose: while a store call or a reply is in flight it reads
// nothing, so a peer that pipelines frames cannot make it buffer more than one partial frame plus
// one read chunk, and a validator that waits for each ack (as the protocol says) loses nothing.

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backoffice/denylist/push_store.h"
#include "backoffice/firmware/firmware_offers.h"
#include "backoffice/ingest/ingest_server.h"
#include "common/tls/tls_context.h"
#include "common/tls/tls_stream.h"
#include "faregate/v1/sync.pb.h"
#include "proto/framing.h"

namespace faregate::ingest::detail {

namespace asio = boost::asio;

struct AtomicCounters {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> hellos{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> taps_inserted{0};
  std::atomic<std::uint64_t> taps_duplicate{0};
  std::atomic<std::uint64_t> taps_conflicting{0};
  std::atomic<std::uint64_t> health_reports{0};
  std::atomic<std::uint64_t> idle_timeouts{0};
  std::atomic<std::uint64_t> handshake_timeouts{0};
  std::atomic<std::uint64_t> store_errors{0};
  std::array<std::atomic<std::uint64_t>, kViolationCount> violations{};
  std::atomic<std::uint64_t> tls_handshakes{0};
  std::atomic<std::uint64_t> tls_handshake_timeouts{0};
  std::array<std::atomic<std::uint64_t>, tls::kHandshakeFailureCount> tls_failures{};
  std::atomic<std::uint64_t> deny_list_pushes{0};
  std::atomic<std::uint64_t> config_pushes{0};
  std::atomic<std::uint64_t> push_errors{0};
  std::atomic<std::uint64_t> firmware_offers{0};
  std::atomic<std::uint64_t> firmware_chunks{0};
  std::atomic<std::uint64_t> firmware_chunk_bytes{0};
};

// What a BatchAck carries besides the watermark; computed on the store thread.
struct Pushes {
  std::optional<faregate::v1::DenyListDelta> deny_list;
  std::optional<faregate::v1::ConfigBundle> config;
  std::optional<faregate::v1::FirmwareOffer> firmware;
  std::vector<std::string> errors;  // logged and counted; the ack goes out without that push
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // The server is stopping: close now if idle, else once the work in flight is answered, and
  // within kDrainGrace in any case.
  virtual void begin_shutdown() = 0;
};

// What sessions share with the server. Lives as long as the server; sessions is touched only on
// the network thread.
struct ServerContext {
  store::TapStore& store;
  const IngestOptions& options;
  asio::thread_pool& store_pool;
  AtomicCounters& counters;
  std::unordered_map<std::uint64_t, std::weak_ptr<SessionBase>> sessions;

  std::int64_t utc_now_ms() const {
    if (options.utc_now_ms) return options.utc_now_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// How long a stopping server waits for a busy session to deliver its last ack.
inline constexpr std::chrono::milliseconds kDrainGrace{1000};
// After an error frame, how long the server keeps reading (and discarding) so that closing with
// unread input does not reset the connection before the peer has read the error.
inline constexpr std::chrono::milliseconds kLingerTime{1000};
inline constexpr std::size_t kReadChunkBytes = 16 * 1024;

// Peer-supplied text for log lines and error messages: bounded, control characters replaced.
inline std::string printable(std::string_view text, std::size_t max = 64) {
  std::string out;
  const std::size_t n = std::min(text.size(), max);
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
  }
  if (text.size() > max) out += "...";
  return out;
}

inline Violation violation_of(framing::FrameError error) {
  switch (error) {
    case framing::FrameError::kTooLarge: return Violation::kFrameTooLarge;
    case framing::FrameError::kBadLength: return Violation::kBadLengthPrefix;
    case framing::FrameError::kTruncated: return Violation::kTruncatedFrame;
    case framing::FrameError::kBadMessage: return Violation::kBadMessage;
    case framing::FrameError::kEmptyMessage: return Violation::kEmptyMessage;
  }
  return Violation::kBadMessage;
}

template <typename Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(ServerContext& context, Stream stream, std::uint64_t id, std::string peer)
      : context_(context),
        stream_(std::move(stream)),
        timer_(stream_.get_executor()),
        reader_(context.options.max_frame_bytes),
        id_(id),
        peer_(std::move(peer)) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    connected_at_ = Clock::now();
    deadline_ = connected_at_ + context_.options.idle_timeout;
    if constexpr (kTls) {
      handshaking_ = true;
      deadline_ = std::min(deadline_, connected_at_ + context_.options.tls_handshake_timeout);
      arm_timer();
      stream_.async_handshake([self = this->shared_from_this()](const boost::system::error_code& ec) {
        self->on_handshake(ec);
      });
    } else {
      arm_timer();
      read();
    }
  }

  void begin_shutdown() override {
    if (phase_ == Phase::kClosed) return;
    draining_ = true;
    if (phase_ == Phase::kOpen && !busy()) {
      close("server stopping");
      return;
    }
    deadline_ = std::min(deadline_, Clock::now() + kDrainGrace);
    arm_timer();
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr bool kTls = std::is_same_v<Stream, tls::TlsStream>;
  enum class Phase {
    kOpen,
    kLingering,  // an error frame went out; discarding input until the peer closes
    kClosed,
  };
  enum class AfterWrite { kContinue, kLinger };

  bool busy() const { return writing_ || store_pending_; }

  std::string who() const {
    if (authenticated_device_) return peer_ + " (certificate " + *authenticated_device_ + ")";
    return device_id_ ? peer_ + " (" + printable(*device_id_) + ")" : peer_;
  }

  // The peer did something: push the idle deadline out. The timer notices on its next firing.
  // Before the Hello nothing does: the handshake must be complete within one idle_timeout of
  // connecting, so that a peer trickling a byte now and then cannot hold a slot forever.
  void touch() {
    if (!draining_ && device_id_) deadline_ = Clock::now() + context_.options.idle_timeout;
  }

  void arm_timer() {
    timer_.expires_at(deadline_);
    timer_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
      self->on_timer(ec);
    });
  }

  void on_timer(const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || phase_ == Phase::kClosed) return;
    const auto now = Clock::now();
    if (now < deadline_) {
      arm_timer();
      return;
    }
    if (phase_ == Phase::kLingering) {
      close("peer did not close after the error frame");
      return;
    }
    if (draining_) {
      close("server stopping");
      return;
    }
    if (handshaking_) {
      context_.counters.tls_handshake_timeouts.fetch_add(1);
      spdlog::warn("{}: TLS handshake not complete within {} ms; closing", who(),
                   context_.options.tls_handshake_timeout.count());
      close("TLS handshake timeout");
      return;
    }
    if (store_pending_) {
      // The peer is waiting for us, not idle.
      deadline_ = now + context_.options.idle_timeout;
      arm_timer();
      return;
    }
    if (!device_id_) {
      context_.counters.handshake_timeouts.fetch_add(1);
      spdlog::warn("{}: no Hello within {} ms of connecting; closing", who(),
                   context_.options.idle_timeout.count());
      close("handshake timeout");
      return;
    }
    context_.counters.idle_timeouts.fetch_add(1);
    spdlog::warn("{}: nothing received for {} ms; closing", who(),
                 context_.options.idle_timeout.count());
    close("idle timeout");
  }

  // ---- stream I/O: the only code that touches stream_ ----

  void read() {
    stream_.async_read_some(
        asio::buffer(read_buffer_),
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          self->on_read(ec, n);
        });
  }

  void write(const faregate::v1::ServerFrame& frame, AfterWrite after) {
    out_.clear();
    if (!framing::encode_frame(frame, out_)) {
      close("cannot encode a reply");
      return;
    }
    writing_ = true;
    after_write_ = after;
    asio::async_write(
        stream_, asio::buffer(out_),
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          self->on_written(ec);
        });
  }

  // Sends FIN after the error frame; the peer reads the frame, then end of stream.
  void half_close() {
    boost::system::error_code ignored;
    stream_.lowest_layer().shutdown(asio::socket_base::shutdown_send, ignored);
  }

  void close(std::string_view reason) {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    boost::system::error_code ignored;
    stream_.lowest_layer().close(ignored);
    timer_.cancel();
    context_.sessions.erase(id_);
    context_.counters.connections_open.fetch_sub(1);
    spdlog::debug("{}: closed: {}", who(), reason);
  }

  // ---- events ----

  void on_handshake(const boost::system::error_code& ec) {
    handshaking_ = false;
    if (phase_ != Phase::kOpen) return;  // closed meanwhile (timeout, server stopping)
    if constexpr (kTls) {
      if (ec) {
        const tls::HandshakeFailure reason = stream_.handshake_failure(ec);
        context_.counters.tls_failures[static_cast<std::size_t>(reason)].fetch_add(1);
        spdlog::warn("{}: TLS handshake refused: {} ({})", who(), tls::to_string(reason),
                     ec.message());
        close("TLS handshake failed");
        return;
      }
      const auto peer = stream_.peer();
      // The context's verify callback already refused certificates without a usable device id;
      // this is the last line should that ever change.
      if (!peer || !tls::is_valid_device_id(peer->common_name)) {
        context_.counters.tls_failures[static_cast<std::size_t>(
                                           tls::HandshakeFailure::kBadCertificate)]
            .fetch_add(1);
        spdlog::warn("{}: TLS peer certificate names no usable device id; closing", who());
        close("no device identity");
        return;
      }
      authenticated_device_ = peer->common_name;
      certificate_serial_ = peer->serial_hex;
      context_.counters.tls_handshakes.fetch_add(1);
      spdlog::debug("{}: TLS session for device certificate {} (serial {})", who(),
                    *authenticated_device_, certificate_serial_);
      // The Hello must still be complete within idle_timeout of connecting.
      deadline_ = connected_at_ + context_.options.idle_timeout;
      read();
    } else {
      (void)ec;
    }
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    if (phase_ == Phase::kClosed) return;
    if (phase_ == Phase::kLingering) {
      if (ec) {
        close("closed after an error frame");
      } else {
        read();
      }
      return;
    }
    if (ec) {
      if (ec == asio::error::eof && reader_.buffered() > 0) {
        violate(Violation::kTruncatedFrame, "stream ended " + std::to_string(reader_.buffered()) +
                                                " bytes into a frame");
      } else if (ec == asio::error::eof) {
        close("peer closed the connection");
      } else {
        close("read failed: " + ec.message());
      }
      return;
    }
    touch();
    if (auto appended = reader_.append(std::string_view(read_buffer_.data(), n)); !appended) {
      violate(violation_of(appended.error()), describe(appended.error()));
      return;
    }
    process_frames();
  }

  void on_written(const boost::system::error_code& ec) {
    writing_ = false;
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      close("write failed: " + ec.message());
      return;
    }
    if (after_write_ == AfterWrite::kLinger) {
      phase_ = Phase::kLingering;
      half_close();
      deadline_ = std::min(deadline_, Clock::now() + kLingerTime);
      arm_timer();
      read();
      return;
    }
    if (draining_) {
      close("server stopping");
      return;
    }
    process_frames();
  }

  // Handles every complete frame buffered, until one needs the store or a reply; reads more when
  // none is left.
  void process_frames() {
    while (phase_ == Phase::kOpen && !busy()) {
      auto body = reader_.next();
      if (!body) {
        if (draining_) {
          close("server stopping");
        } else {
          read();
        }
        return;
      }
      if (!*body) {
        violate(violation_of(body->error()), describe(body->error()));
        return;
      }
      faregate::v1::ClientFrame frame;
      if (auto parsed = framing::parse_body(**body, frame); !parsed) {
        violate(violation_of(parsed.error()),
                "a " + std::to_string((*body)->size()) + "-byte frame is not a ClientFrame");
        return;
      }
      dispatch(frame);
    }
  }

  void dispatch(faregate::v1::ClientFrame& frame) {
    switch (frame.body_case()) {
      case faregate::v1::ClientFrame::kHello: on_hello(frame.hello()); return;
      case faregate::v1::ClientFrame::kTapBatch: on_batch(*frame.mutable_tap_batch()); return;
      case faregate::v1::ClientFrame::kHealth: on_health(frame.health()); return;
      case faregate::v1::ClientFrame::kFirmwareChunkRequest:
        on_chunk_request(frame.firmware_chunk_request());
        return;
      case faregate::v1::ClientFrame::BODY_NOT_SET:
        violate(Violation::kEmptyMessage, "a ClientFrame with no body (or only unknown fields)");
        return;
    }
  }

  void on_hello(const faregate::v1::Hello& hello) {
    if (device_id_) {
      violate(Violation::kUnexpectedMessage, "a second Hello");
      return;
    }
    if (hello.protocol_version() != kProtocolVersion) {
      violate(Violation::kUnsupportedVersion,
              "protocol version " + std::to_string(hello.protocol_version()) +
                  ", this server speaks " + std::to_string(kProtocolVersion));
      return;
    }
    if (hello.device_id().empty() || hello.device_id().size() > kMaxDeviceIdBytes) {
      violate(Violation::kBadHello, "device_id must have 1 to " +
                                        std::to_string(kMaxDeviceIdBytes) + " bytes, got " +
                                        std::to_string(hello.device_id().size()));
      return;
    }
    // The certificate says who this is; the message only gets to agree.
    if (authenticated_device_ && hello.device_id() != *authenticated_device_) {
      violate(Violation::kIdentityMismatch,
              "the Hello names device '" + printable(hello.device_id()) +
                  "' but the certificate is device '" + *authenticated_device_ + "'");
      return;
    }
    if (!hello.device_group().empty()) {
      if (auto valid = firmware::check_device_group(hello.device_group()); !valid) {
        violate(Violation::kBadHello, "device_group '" + printable(hello.device_group()) +
                                          "': " + valid.error().message);
        return;
      }
    }
    device_id_ = hello.device_id();
    device_group_ = hello.device_group();
    device_firmware_ = hello.firmware_version();
    store_pending_ = true;
    auto executor = stream_.get_executor();
    asio::post(context_.store_pool, [self = this->shared_from_this(), executor,
                                     device = *device_id_, firmware = hello.firmware_version(),
                                     journaled = hello.last_journaled_seq()]() mutable {
      auto through = self->context_.store.stored_through(device);
      // The session travels back with the answer, so that it is only ever destroyed on the
      // network thread.
      asio::post(executor, [self = std::move(self), through = std::move(through),
                            firmware = std::move(firmware), journaled]() mutable {
        self->on_hello_answered(std::move(through), firmware, journaled);
      });
    });
  }

  void on_hello_answered(Result<std::uint64_t> through, const std::string& firmware,
                         std::uint64_t journaled) {
    store_pending_ = false;
    touch();
    if (!through) {
      store_failed(through.error());
      return;
    }
    if (phase_ != Phase::kOpen) return;
    context_.counters.hellos.fetch_add(1);
    spdlog::info("{}: hello, firmware {}, journaled through {}, store holds through {}", who(),
                 printable(firmware), journaled, *through);
    if (journaled < *through) {
      spdlog::warn("{}: journaled through {} but the store already holds through {}: the "
                   "validator may have lost its journal",
                   who(), journaled, *through);
    }
    faregate::v1::ServerFrame reply;
    auto* ack = reply.mutable_hello_ack();
    ack->set_stored_through_seq(*through);
    ack->set_server_time_utc_ms(context_.utc_now_ms());
    ack->set_max_batch_taps(context_.options.max_batch_taps);
    write(reply, AfterWrite::kContinue);
  }

  void on_batch(faregate::v1::TapBatch& batch) {
    if (!device_id_) {
      violate(Violation::kUnexpectedMessage, "a TapBatch before Hello");
      return;
    }
    const auto size = static_cast<std::size_t>(batch.taps_size());
    if (size > context_.options.max_batch_taps) {
      violate(Violation::kBatchTooLarge, std::to_string(size) + " taps, the limit is " +
                                             std::to_string(context_.options.max_batch_taps));
      return;
    }
    std::vector<faregate::v1::TapRecord> taps;
    taps.reserve(size);
    for (auto& tap : *batch.mutable_taps()) {
      if (tap.device_id() != *device_id_) {
        violate(Violation::kDeviceMismatch, "tap seq " + std::to_string(tap.seq()) +
                                                " is of device '" + printable(tap.device_id()) +
                                                "', not '" + printable(*device_id_) + "'");
        return;
      }
      if (tap.seq() == 0 ||
          tap.seq() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        violate(Violation::kBadTap, "tap seq " + std::to_string(tap.seq()) + " is out of range");
        return;
      }
      taps.push_back(std::move(tap));
    }
    store_pending_ = true;
    auto executor = stream_.get_executor();
    // Pushes are decided from the versions the validator reported in this session's
    // DeviceHealth; without one, nothing is pushed (we would not know what it holds).
    denylist::PushStore* push_store =
        device_deny_version_ && device_config_version_ ? context_.options.pushes : nullptr;
    // A firmware offer goes out once per session, on the first ack, to a validator of a group.
    firmware::FirmwareOffers* offers =
        firmware_offered_ || device_group_.empty() ? nullptr : context_.options.firmware;
    asio::post(context_.store_pool, [self = this->shared_from_this(), executor,
                                     device = *device_id_, taps = std::move(taps), push_store,
                                     offers, group = device_group_, running = device_firmware_,
                                     deny_version = device_deny_version_.value_or(0),
                                     config_version = device_config_version_.value_or(0)]() mutable {
      // An empty batch (a validator with nothing to send, asking for pushes) costs no write.
      auto outcome = taps.empty() ? stored_only(self->context_.store, device)
                                  : self->context_.store.store_batch(device, taps);
      const std::size_t count = taps.size();
      taps.clear();  // free the batch on the store thread, not while holding the reply
      Pushes pushes;
      if (outcome && push_store != nullptr) {
        pushes = pushes_for(*push_store, deny_version, config_version);
      }
      if (outcome && offers != nullptr) {
        if (auto offer = offers->offer_for(group); !offer) {
          pushes.errors.push_back("firmware offer: " + offer.error().describe());
        } else if (*offer && (*offer)->image.version != running) {
          pushes.firmware = (*offer)->to_proto();
        }
      }
      asio::post(executor, [self = std::move(self), outcome = std::move(outcome), count,
                            pushes = std::move(pushes)]() mutable {
        self->on_batch_stored(std::move(outcome), count, std::move(pushes));
      });
    });
  }

  static Result<store::BatchOutcome> stored_only(store::TapStore& store, const std::string& device) {
    auto through = store.stored_through(device);
    if (!through) return std::unexpected(through.error());
    store::BatchOutcome outcome;
    outcome.stored_through_seq = *through;
    return outcome;
  }

  // Runs on the store thread (the push store is SQLite too).
  static Pushes pushes_for(denylist::PushStore& store, std::uint64_t deny_version,
                           std::uint64_t config_version) {
    Pushes pushes;
    if (auto update = store.deny_list_update(deny_version); !update) {
      pushes.errors.push_back("deny list: " + update.error().describe());
    } else {
      pushes.deny_list = std::move(*update);
    }
    if (auto update = store.config_update(config_version); !update) {
      pushes.errors.push_back("config: " + update.error().describe());
    } else {
      pushes.config = std::move(*update);
    }
    return pushes;
  }

  void on_batch_stored(Result<store::BatchOutcome> outcome, std::size_t count, Pushes pushes) {
    store_pending_ = false;
    touch();
    if (!outcome) {
      store_failed(outcome.error());
      return;
    }
    for (const auto& error : pushes.errors) {
      context_.counters.push_errors.fetch_add(1);
      spdlog::error("{}: nothing pushed: {}", who(), error);
    }
    // Counted whatever happens to the connection now: the taps are stored.
    auto& counters = context_.counters;
    counters.batches.fetch_add(1);
    counters.taps_inserted.fetch_add(outcome->inserted);
    counters.taps_duplicate.fetch_add(outcome->duplicates);
    counters.taps_conflicting.fetch_add(outcome->conflicts);
    spdlog::debug("{}: batch of {}: {} inserted, {} duplicates, {} conflicts, through {}", who(),
                  count, outcome->inserted, outcome->duplicates, outcome->conflicts,
                  outcome->stored_through_seq);
    if (outcome->conflicts > 0) {
      spdlog::warn("{}: {} taps contradict taps already held; kept aside as conflicts", who(),
                   outcome->conflicts);
    }
    if (phase_ != Phase::kOpen) return;
    faregate::v1::ServerFrame reply;
    auto* ack = reply.mutable_batch_ack();
    ack->set_stored_through_seq(outcome->stored_through_seq);
    ack->set_inserted(outcome->inserted);
    ack->set_duplicates(outcome->duplicates);
    ack->set_conflicts(outcome->conflicts);
    if (pushes.deny_list) {
      // From now on this session assumes the validator holds the pushed version; if it could
      // not apply it, its next session's DeviceHealth says so.
      device_deny_version_ = pushes.deny_list->to_version();
      context_.counters.deny_list_pushes.fetch_add(1);
      spdlog::info("{}: pushing deny list {} -> v{} ({} added, {} removed)", who(),
                   pushes.deny_list->full() ? std::string("full")
                                            : "v" + std::to_string(pushes.deny_list->from_version()),
                   pushes.deny_list->to_version(), pushes.deny_list->added_size(),
                   pushes.deny_list->removed_size());
      *ack->mutable_deny_list() = std::move(*pushes.deny_list);
    }
    if (offers_checked_this_ack()) firmware_offered_ = true;
    if (pushes.firmware) {
      context_.counters.firmware_offers.fetch_add(1);
      spdlog::info("{}: offering firmware {} (security counter {}, {} bytes) to group {}, which "
                   "runs {}",
                   who(), pushes.firmware->version(), pushes.firmware->security_counter(),
                   pushes.firmware->image_size(), printable(device_group_),
                   printable(device_firmware_));
      *ack->mutable_firmware() = std::move(*pushes.firmware);
    }
    if (pushes.config) {
      device_config_version_ = pushes.config->version();
      context_.counters.config_pushes.fetch_add(1);
      spdlog::info("{}: pushing config bundle v{}", who(), pushes.config->version());
      *ack->mutable_config() = std::move(*pushes.config);
    }
    write(reply, AfterWrite::kContinue);
  }

  bool offers_checked_this_ack() const {
    return !device_group_.empty() && context_.options.firmware != nullptr;
  }

  // A FirmwareChunkRequest: the bytes come from the image offered to this device's group, read
  // on the store thread (it is disk I/O). Lengths and offsets are checked before anything is read.
  void on_chunk_request(const faregate::v1::FirmwareChunkRequest& request) {
    if (!device_id_) {
      violate(Violation::kUnexpectedMessage, "a FirmwareChunkRequest before Hello");
      return;
    }
    if (request.length() == 0 || request.length() > firmware::kMaxChunkBytes) {
      violate(Violation::kBadChunkRequest,
              "chunk length " + std::to_string(request.length()) + " is not 1.." +
                  std::to_string(firmware::kMaxChunkBytes));
      return;
    }
    if (context_.options.firmware == nullptr || device_group_.empty()) {
      send_error("firmware_unavailable", "no firmware is offered to this device");
      return;
    }
    store_pending_ = true;
    auto executor = stream_.get_executor();
    asio::post(context_.store_pool, [self = this->shared_from_this(), executor,
                                     offers = context_.options.firmware, group = device_group_,
                                     request]() mutable {
      const auto& sha = request.image_sha256();
      auto data = offers->read_chunk(
          group, ByteView(reinterpret_cast<const std::uint8_t*>(sha.data()), sha.size()),
          request.offset(), request.length());
      asio::post(executor, [self = std::move(self), data = std::move(data),
                            request = std::move(request)]() mutable {
        self->on_chunk_read(std::move(data), request);
      });
    });
  }

  void on_chunk_read(Result<Bytes> data, const faregate::v1::FirmwareChunkRequest& request) {
    store_pending_ = false;
    touch();
    if (phase_ != Phase::kOpen) return;
    if (!data) {
      if (data.error().code == ErrorCode::kInvalidArgument) {
        violate(Violation::kBadChunkRequest, data.error().message);
      } else if (data.error().code == ErrorCode::kNotFound) {
        spdlog::info("{}: chunk of an image no longer offered: {}", who(), data.error().message);
        send_error("firmware_unavailable", data.error().message);
      } else {
        context_.counters.store_errors.fetch_add(1);
        spdlog::error("{}: cannot read firmware: {}", who(), data.error().describe());
        send_error("store_error", "the back office could not read the image; retry later");
      }
      return;
    }
    context_.counters.firmware_chunks.fetch_add(1);
    context_.counters.firmware_chunk_bytes.fetch_add(data->size());
    faregate::v1::ServerFrame reply;
    auto* chunk = reply.mutable_firmware_chunk();
    chunk->set_image_sha256(request.image_sha256());
    chunk->set_offset(request.offset());
    chunk->set_data(std::string(data->begin(), data->end()));
    write(reply, AfterWrite::kContinue);
  }

  void on_health(const faregate::v1::DeviceHealth& health) {
    if (!device_id_) {
      violate(Violation::kUnexpectedMessage, "a DeviceHealth before Hello");
      return;
    }
    context_.counters.health_reports.fetch_add(1);
    device_deny_version_ = health.deny_list_version();
    device_config_version_ = health.config_version();
    spdlog::debug("{}: health: journal depth {}, oldest unsynced {}, reader {}, deny list v{}, "
                 "config v{}, device time {}",
                 who(), health.journal_depth(), health.oldest_unsynced_utc_ms(),
                 printable(health.reader_status()), health.deny_list_version(),
                 health.config_version(), health.device_time_utc_ms());
  }

  // ---- ending a connection on purpose ----

  void violate(Violation violation, const std::string& detail) {
    context_.counters.violations[static_cast<std::size_t>(violation)].fetch_add(1);
    spdlog::warn("{}: closing: {}: {}", who(), to_string(violation), detail);
    send_error(std::string(to_string(violation)), detail);
  }

  void store_failed(const Error& error) {
    context_.counters.store_errors.fetch_add(1);
    spdlog::error("{}: store failed: {}", who(), error.describe());
    if (phase_ != Phase::kOpen) return;
    // The validator keeps its taps and retries; the details stay in our log.
    send_error("store_error", "the back office could not store the data; retry later");
  }

  void send_error(const std::string& code, const std::string& message) {
    faregate::v1::ServerFrame frame;
    auto* error = frame.mutable_error();
    error->set_code(code);
    error->set_message(message);
    write(frame, AfterWrite::kLinger);
  }

  std::string describe(framing::FrameError error) const {
    switch (error) {
      case framing::FrameError::kTooLarge:
        return "length prefix over the " + std::to_string(context_.options.max_frame_bytes) +
               "-byte limit";
      case framing::FrameError::kBadLength: return "length prefix is not a valid varint";
      default: return std::string(framing::to_string(error));
    }
  }

  ServerContext& context_;
  Stream stream_;
  asio::steady_timer timer_;
  framing::FrameReader reader_;
  const std::uint64_t id_;
  const std::string peer_;
  std::array<char, kReadChunkBytes> read_buffer_{};
  std::string out_;
  Clock::time_point deadline_{};
  std::optional<std::string> device_id_;  // set by the Hello
  std::string device_group_;              // from the Hello; empty: no firmware offers
  std::string device_firmware_;           // the version the Hello reported
  bool firmware_offered_ = false;         // this session's first ack looked for an offer
  std::optional<std::string> authenticated_device_;  // TLS: the certificate's common name
  // What the validator holds, from its DeviceHealth (then what we pushed it).
  std::optional<std::uint64_t> device_deny_version_;
  std::optional<std::uint64_t> device_config_version_;
  std::string certificate_serial_;
  Clock::time_point connected_at_{};
  bool handshaking_ = false;
  Phase phase_ = Phase::kOpen;
  AfterWrite after_write_ = AfterWrite::kContinue;
  bool writing_ = false;
  bool store_pending_ = false;
  bool draining_ = false;
};

}  // namespace faregate::ingest::detail
