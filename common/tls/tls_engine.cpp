#include "common/tls/tls_engine.h"

#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "common/tls/mbedtls_handles.h"

namespace faregate::tls {

std::string_view to_string(HandshakeFailure failure) {
  switch (failure) {
    case HandshakeFailure::kNoCertificate: return "no_certificate";
    case HandshakeFailure::kUntrustedCertificate: return "untrusted_certificate";
    case HandshakeFailure::kRevokedCertificate: return "revoked_certificate";
    case HandshakeFailure::kExpiredCertificate: return "expired_certificate";
    case HandshakeFailure::kNameMismatch: return "name_mismatch";
    case HandshakeFailure::kBadCertificate: return "bad_certificate";
    case HandshakeFailure::kProtocol: return "tls_protocol";
    case HandshakeFailure::kClosed: return "closed";
  }
  return "tls_protocol";
}

HandshakeFailure classify_handshake_failure(int code, std::uint32_t flags) {
  if (code == MBEDTLS_ERR_SSL_CONN_EOF || code == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
    return HandshakeFailure::kClosed;
  }
  // 0xFFFFFFFF: no certificate was ever looked at.
  const bool verified = flags != 0xFFFFFFFFu;
  if (code == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE ||
      (verified && (flags & MBEDTLS_X509_BADCERT_MISSING) != 0)) {
    return HandshakeFailure::kNoCertificate;
  }
  if (code == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && verified) {
    // The most telling reason first: a revoked certificate is usually also fine otherwise.
    if ((flags & MBEDTLS_X509_BADCERT_REVOKED) != 0) return HandshakeFailure::kRevokedCertificate;
    if ((flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0) {
      return HandshakeFailure::kUntrustedCertificate;
    }
    if ((flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)) != 0) {
      return HandshakeFailure::kExpiredCertificate;
    }
    if ((flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0) return HandshakeFailure::kNameMismatch;
    return HandshakeFailure::kBadCertificate;
  }
  if (code == MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE || code == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    return HandshakeFailure::kBadCertificate;
  }
  return HandshakeFailure::kProtocol;
}

struct Engine::Impl {
  Impl() { mbedtls_ssl_init(&ssl); }
  ~Impl() { mbedtls_ssl_free(&ssl); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // mbedTLS's transport callbacks, on memory: what feed() gave, and an output buffer.
  static int on_send(void* self, const unsigned char* data, std::size_t length) {
    auto* impl = static_cast<Impl*>(self);
    const std::size_t n = std::min<std::size_t>(length, INT_MAX);
    impl->output.append(reinterpret_cast<const char*>(data), n);
    return static_cast<int>(n);
  }
  static int on_receive(void* self, unsigned char* data, std::size_t length) {
    auto* impl = static_cast<Impl*>(self);
    const std::size_t available = impl->input.size() - impl->input_pos;
    if (available == 0) return impl->end_of_stream ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
    const std::size_t n = std::min({length, available, std::size_t{INT_MAX}});
    std::memcpy(data, impl->input.data() + impl->input_pos, n);
    impl->input_pos += n;
    if (impl->input_pos == impl->input.size()) {
      impl->input.clear();
      impl->input_pos = 0;
    }
    return static_cast<int>(n);
  }

  mbedtls_ssl_context ssl;
  // Whichever context configured `ssl` must outlive it: mbedTLS keeps a pointer to its config.
  std::shared_ptr<const ServerContext> server_context;
  std::shared_ptr<const ClientContext> client_context;
  std::string input;
  std::size_t input_pos = 0;
  bool end_of_stream = false;
  std::string output;
  bool handshake_done = false;
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

Result<Engine> Engine::server(std::shared_ptr<const ServerContext> context) {
  auto impl = std::make_unique<Impl>();
  if (int rc = mbedtls_ssl_setup(&impl->ssl, context->config()); rc != 0) {
    return make_error(ErrorCode::kCrypto, "TLS session setup: " + mbedtls_error_text(rc));
  }
  impl->server_context = std::move(context);
  mbedtls_ssl_set_bio(&impl->ssl, impl.get(), &Impl::on_send, &Impl::on_receive, nullptr);
  return Engine(std::move(impl));
}

Result<Engine> Engine::client(std::shared_ptr<const ClientContext> context) {
  auto impl = std::make_unique<Impl>();
  if (int rc = mbedtls_ssl_setup(&impl->ssl, context->config()); rc != 0) {
    return make_error(ErrorCode::kCrypto, "TLS session setup: " + mbedtls_error_text(rc));
  }
  // The server certificate must name the back office we mean to reach.
  if (int rc = mbedtls_ssl_set_hostname(&impl->ssl, context->server_name().c_str()); rc != 0) {
    return make_error(ErrorCode::kCrypto, "TLS server name: " + mbedtls_error_text(rc));
  }
  impl->client_context = std::move(context);
  mbedtls_ssl_set_bio(&impl->ssl, impl.get(), &Impl::on_send, &Impl::on_receive, nullptr);
  return Engine(std::move(impl));
}

void Engine::feed(std::span<const std::uint8_t> ciphertext) {
  impl_->input.append(reinterpret_cast<const char*>(ciphertext.data()), ciphertext.size());
}
void Engine::feed(std::string_view ciphertext) { impl_->input.append(ciphertext); }
void Engine::feed_end_of_stream() { impl_->end_of_stream = true; }
std::size_t Engine::buffered_input() const { return impl_->input.size() - impl_->input_pos; }

bool Engine::has_output() const { return !impl_->output.empty(); }
std::string Engine::take_output() {
  std::string out;
  out.swap(impl_->output);
  return out;
}

Engine::Step Engine::handshake() {
  if (impl_->handshake_done) return {Outcome::kDone, 0, 0};
  const int rc = mbedtls_ssl_handshake(&impl_->ssl);
  if (rc == 0) {
    impl_->handshake_done = true;
    return {Outcome::kDone, 0, 0};
  }
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
    if (impl_->end_of_stream && buffered_input() == 0) {
      return {Outcome::kClosed, 0, MBEDTLS_ERR_SSL_CONN_EOF};
    }
    return {Outcome::kWantRead, 0, 0};
  }
  if (rc == MBEDTLS_ERR_SSL_CONN_EOF) return {Outcome::kClosed, 0, rc};
  return {Outcome::kFailed, 0, rc};
}

bool Engine::handshake_complete() const { return impl_->handshake_done; }

Engine::Step Engine::read(std::span<std::uint8_t> out) {
  if (out.empty()) return {Outcome::kDone, 0, 0};
  const int rc = mbedtls_ssl_read(&impl_->ssl, out.data(), out.size());
  if (rc > 0) return {Outcome::kDone, static_cast<std::size_t>(rc), 0};
  if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF) {
    return {Outcome::kClosed, 0, rc};
  }
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
    if (impl_->end_of_stream && buffered_input() == 0) return {Outcome::kClosed, 0, 0};
    return {Outcome::kWantRead, 0, 0};
  }
  return {Outcome::kFailed, 0, rc};
}

Engine::Step Engine::write(std::span<const std::uint8_t> in) {
  std::size_t done = 0;
  while (done < in.size()) {
    // One record per call at most; the memory transport accepts everything, so mbedTLS never
    // asks to retry.
    const int rc = mbedtls_ssl_write(&impl_->ssl, in.data() + done, in.size() - done);
    if (rc < 0) return {Outcome::kFailed, done, rc};
    done += static_cast<std::size_t>(rc);
  }
  return {Outcome::kDone, done, 0};
}

Engine::Step Engine::close_notify() {
  const int rc = mbedtls_ssl_close_notify(&impl_->ssl);
  if (rc == 0 || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return {Outcome::kDone, 0, 0};
  return {Outcome::kFailed, 0, rc};
}

std::optional<PeerIdentity> Engine::peer() const {
  if (!impl_->handshake_done) return std::nullopt;
  const mbedtls_x509_crt* crt = mbedtls_ssl_get_peer_cert(&impl_->ssl);
  if (crt == nullptr) return std::nullopt;
  return PeerIdentity{common_name_of(*crt), serial_hex_of(*crt), organizational_unit_of(*crt)};
}

std::uint32_t Engine::verify_flags() const { return mbedtls_ssl_get_verify_result(&impl_->ssl); }

}  // namespace faregate::tls
