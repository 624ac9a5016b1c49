#pragma once
// tls::Engine: one TLS connection's state machine (an mbedTLS ssl context) without any I/O of its
// own. Ciphertext from the peer goes in with feed(); ciphertext for the peer comes out with
// take_output(). handshake(), read(), write() and close_notify() never block: when mbedTLS needs
// more input they answer kWantRead and the caller feeds more. tls::TlsStream drives it over an
// Asio socket; the fuzz target drives it straight from bytes.
//
// Memory: the engine holds what was fed and not yet consumed (the caller feeds at most one read
// chunk at a time) and what was produced and not yet taken, plus mbedTLS's two record buffers.
//
// Thread safety: none; one connection is driven by one thread (or strand) at a time.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/tls/tls_context.h"

namespace faregate::tls {

// Why a handshake failed, as logged and counted. to_string() gives the log/metric name.
enum class HandshakeFailure : std::uint8_t {
  kNoCertificate,         // "no_certificate": the peer presented no certificate
  kUntrustedCertificate,  // "untrusted_certificate": not issued by the pinned CA
  kRevokedCertificate,    // "revoked_certificate": listed in the device CA's revocation list
  kExpiredCertificate,    // "expired_certificate": outside its validity period
  kNameMismatch,          // "name_mismatch": the server's certificate lacks the expected name
  kBadCertificate,        // "bad_certificate": unusable device id, wrong key usage, weak key,
                          //   expired revocation list, ...
  kProtocol,              // "tls_protocol": not TLS 1.2, no common suite, malformed records
  kClosed,                // "closed": the peer closed the connection during the handshake
};
inline constexpr std::size_t kHandshakeFailureCount = 8;
std::string_view to_string(HandshakeFailure failure);

// From mbedTLS's error code and the certificate verification flags of the failed handshake.
HandshakeFailure classify_handshake_failure(int mbedtls_code, std::uint32_t verify_flags);

// Who is at the other end, from the certificate the handshake verified.
struct PeerIdentity {
  std::string common_name;  // the device id on the server side, the server name on the client
  std::string serial_hex;   // for logs and for revocation
  std::string organizational_unit;  // the role marker, e.g. kTechnicianUnit; empty for devices
};

class Engine {
 public:
  enum class Outcome {
    kDone,      // the call completed (`bytes` says how much, for read and write)
    kWantRead,  // needs more ciphertext: feed() and call again (send take_output() first)
    kClosed,    // the peer closed: close_notify or end of stream
    kFailed,    // fatal; `code` is the mbedTLS error. Send take_output() (an alert), then close
  };
  struct Step {
    Outcome outcome = Outcome::kFailed;
    std::size_t bytes = 0;
    int code = 0;
  };

  // Errors: kCrypto when mbedTLS cannot set up the context (out of memory).
  static Result<Engine> server(std::shared_ptr<const ServerContext> context);
  static Result<Engine> client(std::shared_ptr<const ClientContext> context);

  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();

  void feed(std::span<const std::uint8_t> ciphertext);
  void feed(std::string_view ciphertext);
  // The transport reached end of stream: a read that needs more input reports kClosed.
  void feed_end_of_stream();
  std::size_t buffered_input() const;

  bool has_output() const;
  std::string take_output();

  Step handshake();
  bool handshake_complete() const;
  // Plaintext into `out` (not empty). kDone with bytes > 0, kWantRead, kClosed or kFailed.
  Step read(std::span<std::uint8_t> out);
  // Encrypts all of `in` into records; kDone with bytes == in.size(), or kFailed.
  // Requires: the handshake is complete.
  Step write(std::span<const std::uint8_t> in);
  // Queues a close_notify alert (take_output() to send it).
  Step close_notify();

  // After a completed handshake: the verified peer certificate's identity.
  std::optional<PeerIdentity> peer() const;
  // Certificate verification flags of the (failed or completed) handshake; 0 when all passed.
  std::uint32_t verify_flags() const;
  HandshakeFailure failure_reason(int mbedtls_code) const {
    return classify_handshake_failure(mbedtls_code, verify_flags());
  }

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace faregate::tls
