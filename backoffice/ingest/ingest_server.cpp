#include "backoffice/ingest/ingest_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "backoffice/ingest/ingest_session.h"

namespace faregate::ingest {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string_view to_string(Violation violation) {
  switch (violation) {
    case Violation::kFrameTooLarge: return "frame_too_large";
    case Violation::kBadLengthPrefix: return "bad_length_prefix";
    case Violation::kTruncatedFrame: return "truncated_frame";
    case Violation::kBadMessage: return "bad_message";
    case Violation::kEmptyMessage: return "empty_message";
    case Violation::kUnexpectedMessage: return "unexpected_message";
    case Violation::kUnsupportedVersion: return "unsupported_version";
    case Violation::kBadHello: return "bad_hello";
    case Violation::kDeviceMismatch: return "device_mismatch";
    case Violation::kBatchTooLarge: return "batch_too_large";
    case Violation::kBadTap: return "bad_tap";
    case Violation::kIdentityMismatch: return "identity_mismatch";
    case Violation::kBadChunkRequest: return "bad_chunk_request";
  }
  return "unknown_violation";
}

std::uint64_t IngestCounters::total_violations() const {
  std::uint64_t total = 0;
  for (const auto n : violations) total += n;
  return total;
}

namespace {

// After a failed accept (out of file descriptors, typically), wait before trying again rather
// than spinning on the error.
constexpr std::chrono::milliseconds kAcceptRetry{100};

std::string describe_peer(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown peer";
  const auto address = endpoint.address();
  return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
         std::to_string(endpoint.port());
}

}  // namespace

struct IngestServer::Impl {
  Impl(store::TapStore& s, IngestOptions o) : store(s), options(std::move(o)) {}

  store::TapStore& store;
  const IngestOptions options;
  detail::AtomicCounters counters;

  // Declared before everything that registers with it, so that it is destroyed last.
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<asio::thread_pool> store_pool;
  std::optional<detail::ServerContext> context;
  std::thread network_thread;
  std::uint64_t next_session_id = 1;
  bool stopping = false;  // network thread only

  std::mutex lifecycle;  // guards started / stopped
  bool started = false;
  bool stopped = false;

  Status check_options() const {
    if (options.max_connections == 0) {
      return make_error(ErrorCode::kInvalidArgument, "max_connections must be at least 1");
    }
    if (options.max_batch_taps == 0) {
      return make_error(ErrorCode::kInvalidArgument, "max_batch_taps must be at least 1");
    }
    if (options.max_frame_bytes < 64) {
      return make_error(ErrorCode::kInvalidArgument, "max_frame_bytes must be at least 64");
    }
    if (options.idle_timeout.count() <= 0) {
      return make_error(ErrorCode::kInvalidArgument, "idle_timeout must be positive");
    }
    if (options.tls_handshake_timeout.count() <= 0) {
      return make_error(ErrorCode::kInvalidArgument, "tls_handshake_timeout must be positive");
    }
    return {};
  }

  Result<std::uint16_t> listen() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options.listen_address, ec);
    if (ec) {
      return make_error(ErrorCode::kInvalidArgument,
                        "listen address '" + options.listen_address + "' is not an IP address");
    }
    const tcp::endpoint endpoint(address, options.port);
    const std::string where = options.listen_address + ":" + std::to_string(options.port);
    if (acceptor.open(endpoint.protocol(), ec); ec) {
      return make_error(ErrorCode::kUnavailable, "cannot open a socket for " + where + ": " +
                                                     ec.message());
    }
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (acceptor.bind(endpoint, ec); ec) {
      acceptor.close(ec);
      return make_error(ErrorCode::kUnavailable, "cannot bind " + where + ": " + ec.message());
    }
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
      acceptor.close(ec);
      return make_error(ErrorCode::kUnavailable, "cannot listen on " + where + ": " + ec.message());
    }
    const auto bound = acceptor.local_endpoint(ec);
    if (ec) return make_error(ErrorCode::kUnavailable, "no local endpoint: " + ec.message());
    return bound.port();
  }

  void accept() {
    acceptor.async_accept(
        [this](const boost::system::error_code& ec, tcp::socket socket) {
          on_accept(ec, std::move(socket));
        });
  }

  void on_accept(const boost::system::error_code& ec, tcp::socket socket) {
    if (stopping || ec == asio::error::operation_aborted) return;
    if (ec) {
      spdlog::warn("ingest: accept failed: {}; retrying in {} ms", ec.message(),
                   kAcceptRetry.count());
      accept_retry.expires_after(kAcceptRetry);
      accept_retry.async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec && !stopping) accept();
      });
      return;
    }
    std::string peer = describe_peer(socket);
    if (context->sessions.size() >= options.max_connections) {
      refuse(std::move(socket), peer);
    } else {
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (options.tls) {
        start_tls_session(std::move(socket), std::move(peer));
      } else {
        start_session<tcp::socket>(std::move(socket), std::move(peer));
      }
    }
    accept();
  }

  template <typename Stream>
  void start_session(Stream stream, std::string peer) {
    counters.connections_accepted.fetch_add(1);
    counters.connections_open.fetch_add(1);
    const std::uint64_t id = next_session_id++;
    auto session =
        std::make_shared<detail::Session<Stream>>(*context, std::move(stream), id, peer);
    context->sessions.emplace(id, session);
    spdlog::debug("{}: connected ({} open)", peer, context->sessions.size());
    session->start();
  }

  void start_tls_session(tcp::socket socket, std::string peer) {
    // The newest credentials for each new connection: a revocation list the operator just
    // installed applies from the next handshake on.
    auto engine = tls::Engine::server(options.tls->current(std::chrono::steady_clock::now()));
    if (!engine) {
      spdlog::error("{}: cannot set up TLS: {}", peer, engine.error().describe());
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    start_session<tls::TlsStream>(tls::TlsStream(std::move(socket), std::move(*engine)),
                                  std::move(peer));
  }

  // Over the connection limit: a best-effort error frame that never blocks, then close. Over
  // TLS the frame could only be sent after a handshake, which is the very work a flood must not
  // get: the connection is just closed.
  void refuse(tcp::socket socket, const std::string& peer) {
    counters.connections_refused.fetch_add(1);
    spdlog::warn("{}: refused: {} connections open (max_connections)", peer,
                 context->sessions.size());
    if (options.tls) {
      boost::system::error_code ignored;
      socket.close(ignored);
      return;
    }
    faregate::v1::ServerFrame frame;
    frame.mutable_error()->set_code("server_busy");
    frame.mutable_error()->set_message("too many connections; retry later");
    const std::string bytes = framing::encode_frame(frame);
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.send(asio::buffer(bytes), 0, ignored);
    socket.close(ignored);
  }

  void begin_shutdown() {
    stopping = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    accept_retry.cancel();
    std::vector<std::shared_ptr<detail::SessionBase>> open;
    for (const auto& [id, weak] : context->sessions) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
    // Sessions remove themselves from the map as they close, hence the copy.
    for (const auto& session : open) session->begin_shutdown();
  }

  void run_network() {
    // A handler that throws (out of memory) must not take every connection down with it.
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("ingest: network handler failed: {}", e.what());
      }
    }
  }
};

IngestServer::IngestServer(store::TapStore& store, IngestOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}

IngestServer::~IngestServer() { stop(); }

Result<std::uint16_t> IngestServer::start() {
  std::lock_guard lock(impl_->lifecycle);
  if (impl_->started) return make_error(ErrorCode::kInvalidArgument, "server already started");
  if (auto s = impl_->check_options(); !s) return std::unexpected(s.error());
  auto port = impl_->listen();
  if (!port) return std::unexpected(port.error());

  impl_->store_pool.emplace(1);
  impl_->context.emplace(detail::ServerContext{impl_->store, impl_->options, *impl_->store_pool,
                                               impl_->counters, {}});
  impl_->work.emplace(impl_->io.get_executor());
  asio::post(impl_->io, [impl = impl_.get()] { impl->accept(); });
  impl_->network_thread = std::thread([impl = impl_.get()] { impl->run_network(); });
  impl_->started = true;
  if (!impl_->options.tls) {
    spdlog::warn("ingest: PLAIN TCP without TLS: anyone who can reach the port can upload taps "
                 "under any device id (development only)");
  }
  spdlog::info("ingest: listening on {}:{} ({}, max {} connections, idle timeout {} ms, max {} "
               "taps per batch, max frame {} bytes)",
               impl_->options.listen_address, *port,
               impl_->options.tls ? "mutual TLS 1.2" : "plain TCP", impl_->options.max_connections,
               impl_->options.idle_timeout.count(), impl_->options.max_batch_taps,
               impl_->options.max_frame_bytes);
  return *port;
}

void IngestServer::stop() {
  std::lock_guard lock(impl_->lifecycle);
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;

  std::promise<void> shut;
  asio::post(impl_->io, [impl = impl_.get(), &shut] {
    impl->begin_shutdown();
    shut.set_value();
  });
  shut.get_future().wait();
  // Store work in flight finishes; its answers go back to the still-running network thread.
  impl_->store_pool->join();
  impl_->work.reset();
  impl_->network_thread.join();
  spdlog::info("ingest: stopped");
}

IngestCounters IngestServer::counters() const {
  const auto& c = impl_->counters;
  IngestCounters out;
  out.connections_accepted = c.connections_accepted.load();
  out.connections_refused = c.connections_refused.load();
  out.connections_open = c.connections_open.load();
  out.hellos = c.hellos.load();
  out.batches = c.batches.load();
  out.taps_inserted = c.taps_inserted.load();
  out.taps_duplicate = c.taps_duplicate.load();
  out.taps_conflicting = c.taps_conflicting.load();
  out.health_reports = c.health_reports.load();
  out.idle_timeouts = c.idle_timeouts.load();
  out.handshake_timeouts = c.handshake_timeouts.load();
  out.store_errors = c.store_errors.load();
  for (std::size_t i = 0; i < kViolationCount; ++i) out.violations[i] = c.violations[i].load();
  out.tls_handshakes = c.tls_handshakes.load();
  out.deny_list_pushes = c.deny_list_pushes.load();
  out.config_pushes = c.config_pushes.load();
  out.push_errors = c.push_errors.load();
  out.firmware_offers = c.firmware_offers.load();
  out.firmware_chunks = c.firmware_chunks.load();
  out.firmware_chunk_bytes = c.firmware_chunk_bytes.load();
  out.tls_handshake_timeouts = c.tls_handshake_timeouts.load();
  for (std::size_t i = 0; i < tls::kHandshakeFailureCount; ++i) {
    out.tls_failures[i] = c.tls_failures[i].load();
  }
  return out;
}

}  // namespace faregate::ingest
