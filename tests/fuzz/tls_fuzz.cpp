// Fuzz target: what a hostile peer or a damaged file can hand the TLS layer.
//   first byte even: the bytes are a client's side of a TLS connection, fed to the back office's
//                    tls::Engine (server, mutual authentication) in chunks of a fuzzed size,
//                    driving the handshake (and reads, should one ever complete);
//   first byte odd:  the bytes are a certificate, revocation list and key file (PEM or DER), as
//                    the back office reloads them.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/tls/mbedtls_handles.h"
#include "common/tls/tls_engine.h"
#include "tests/common/tls/test_pki.h"

namespace {

std::shared_ptr<const faregate::tls::ServerContext> server_context() {
  static const auto context = [] {
    faregate::testing::TestPki pki(1);
    return pki.server_context(pki.revocation_list({"0102030405"}));
  }();
  return context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
  if ((data[0] & 1) != 0) {
    (void)faregate::tls::Certificate::parse(bytes, "fuzz");
    (void)faregate::tls::RevocationList::parse(bytes, "fuzz");
    (void)faregate::tls::PrivateKey::parse(bytes, "fuzz");
    return 0;
  }
  auto engine = faregate::tls::Engine::server(server_context());
  if (!engine) return 0;
  const std::size_t chunk = 1 + data[1] % 64;
  std::array<std::uint8_t, 1024> plaintext{};
  for (std::size_t offset = 0; offset < bytes.size(); offset += chunk) {
    engine->feed(bytes.substr(offset, chunk));
    const auto step = engine->handshake_complete() ? engine->read(plaintext) : engine->handshake();
    (void)engine->take_output();
    if (step.outcome == faregate::tls::Engine::Outcome::kFailed ||
        step.outcome == faregate::tls::Engine::Outcome::kClosed) {
      (void)engine->failure_reason(step.code);
      return 0;
    }
  }
  engine->feed_end_of_stream();
  (void)engine->handshake();
  return 0;
}
