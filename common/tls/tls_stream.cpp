#include "common/tls/tls_stream.h"

#include "common/tls/mbedtls_handles.h"

namespace faregate::tls {

namespace {

// Values are mbedTLS error codes negated (error_code values are conventionally positive).
// Boost's error_category has a protected non-virtual destructor by design; this one is a static
// that is never deleted through a base pointer.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class TlsCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "faregate.tls"; }
  std::string message(int value) const override { return mbedtls_error_text(-value); }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& tls_category() {
  static const TlsCategory category;
  return category;
}

boost::system::error_code make_tls_error_code(int mbedtls_code) {
  return {mbedtls_code < 0 ? -mbedtls_code : mbedtls_code, tls_category()};
}

HandshakeFailure TlsStream::handshake_failure(const boost::system::error_code& ec) const {
  if (ec.category() == tls_category()) return engine_.failure_reason(-ec.value());
  if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) {
    return HandshakeFailure::kClosed;
  }
  return HandshakeFailure::kProtocol;
}

}  // namespace faregate::tls
