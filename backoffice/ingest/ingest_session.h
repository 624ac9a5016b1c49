#pragma once
// Private to backoffice/ingest: one validator connection and its protocol state machine.
//
// Session is a template on the stream so that the TLS stream (asio::ssl::stream or the mbedTLS
// stream in common/) can replace the plain socket without touching the protocol logic. The stream
// is touched only in read(), write(), half_close() and close(); everything else runs on the
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
#include <unordered_map>
#include <utility>
#include <vector>

#include "backoffice/ingest/ingest_server.h"
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
    deadline_ = Clock::now() + context_.options.idle_timeout;
    arm_timer();
    read();
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
  enum class Phase {
    kOpen,
    kLingering,  // an error frame went out; discarding input until the peer closes
    kClosed,
  };
  enum class AfterWrite { kContinue, kLinger };

  bool busy() const { return writing_ || store_pending_; }

  std::string who() const {
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
    device_id_ = hello.device_id();
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
    asio::post(context_.store_pool, [self = this->shared_from_this(), executor,
                                     device = *device_id_, taps = std::move(taps)]() mutable {
      auto outcome = self->context_.store.store_batch(device, taps);
      const std::size_t count = taps.size();
      taps.clear();  // free the batch on the store thread, not while holding the reply
      asio::post(executor,
                 [self = std::move(self), outcome = std::move(outcome), count]() mutable {
                   self->on_batch_stored(std::move(outcome), count);
                 });
    });
  }

  void on_batch_stored(Result<store::BatchOutcome> outcome, std::size_t count) {
    store_pending_ = false;
    touch();
    if (!outcome) {
      store_failed(outcome.error());
      return;
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
    write(reply, AfterWrite::kContinue);
  }

  void on_health(const faregate::v1::DeviceHealth& health) {
    if (!device_id_) {
      violate(Violation::kUnexpectedMessage, "a DeviceHealth before Hello");
      return;
    }
    context_.counters.health_reports.fetch_add(1);
    spdlog::info("{}: health: journal depth {}, oldest unsynced {}, reader {}, deny list v{}, "
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
  Phase phase_ = Phase::kOpen;
  AfterWrite after_write_ = AfterWrite::kContinue;
  bool writing_ = false;
  bool store_pending_ = false;
  bool draining_ = false;
};

}  // namespace faregate::ingest::detail
