// tls::ServerCredentials reloads the back office's files (above all the revocation list) while
// running, and keeps the previous context when a changed file is unusable.

#include <catch2/catch.hpp>

#include <fstream>

#include "common/tls/server_credentials.h"
#include "common/tls/tls_engine.h"
#include "tests/common/tls/test_pki.h"
#include "tests/support/temp_dir.h"

using faregate::tls::ClientContext;
using faregate::tls::Engine;
using faregate::tls::ServerCredentials;
using faregate::testing::TempDir;
using faregate::testing::TestPki;
using namespace std::chrono_literals;

namespace {

void write(const std::filesystem::path& path, const std::string& text) {
  // Through a rename, as faregate-keys --install does, so the inode changes too.
  const auto temporary = path.string() + ".new";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(temporary, path);
}

faregate::tls::ServerFiles write_server_files(const TempDir& dir, TestPki& pki,
                                              const std::string& crl) {
  auto files = faregate::tls::server_files_in(dir.path());
  write(files.certificate, pki.server().certificate_pem);
  write(files.private_key, pki.server().private_key_pem);
  write(files.client_ca, pki.ca_pem());
  write(files.revocation_list, crl);
  return files;
}

// True when a device with these credentials completes a handshake with `server_context`.
bool admitted(std::shared_ptr<const faregate::tls::ServerContext> server_context,
              std::shared_ptr<const ClientContext> client_context) {
  auto server = *Engine::server(std::move(server_context));
  auto client = *Engine::client(std::move(client_context));
  Engine::Step cs{Engine::Outcome::kWantRead, 0, 0};
  Engine::Step ss{Engine::Outcome::kWantRead, 0, 0};
  for (int i = 0; i < 32; ++i) {
    if (cs.outcome == Engine::Outcome::kWantRead) cs = client.handshake();
    server.feed(client.take_output());
    if (ss.outcome == Engine::Outcome::kWantRead) ss = server.handshake();
    client.feed(server.take_output());
    if (cs.outcome != Engine::Outcome::kWantRead && ss.outcome != Engine::Outcome::kWantRead) break;
  }
  return cs.outcome == Engine::Outcome::kDone && ss.outcome == Engine::Outcome::kDone;
}

}  // namespace

TEST_CASE("a device revoked while the back office runs is refused from its next connection") {
  TestPki pki;
  TempDir dir;
  auto device = pki.issue_device("gate-3");
  auto device_context = *ClientContext::create(pki.client_pem(device));
  auto files = write_server_files(dir, pki, pki.revocation_list({}));
  auto credentials = ServerCredentials::load(files, 0ms);
  REQUIRE(credentials);
  auto before = (*credentials)->current(std::chrono::steady_clock::now());
  CHECK(admitted(before, device_context));

  write(files.revocation_list, pki.revocation_list({device.serial_hex}));
  auto after = (*credentials)->current(std::chrono::steady_clock::now());
  CHECK(after != before);
  CHECK((*credentials)->reloads() == 1);
  CHECK((*credentials)->revoked_count() == 1);
  CHECK_FALSE(admitted(after, device_context));
  // A connection that started with the old context keeps it; it is a complete context.
  CHECK(admitted(before, device_context));
}

TEST_CASE("an unusable new revocation list keeps the previous credentials and is retried") {
  TestPki pki;
  TempDir dir;
  auto files = write_server_files(dir, pki, pki.revocation_list({}));
  auto credentials = ServerCredentials::load(files, 0ms);
  REQUIRE(credentials);
  auto good = (*credentials)->current(std::chrono::steady_clock::now());

  write(files.revocation_list, "-----BEGIN X509 CRL-----\ntruncated");
  CHECK_FALSE((*credentials)->reload_if_changed());
  CHECK((*credentials)->reload_failures() == 1);
  CHECK((*credentials)->current(std::chrono::steady_clock::now()) == good);

  auto device = pki.issue_device("gate-4");
  write(files.revocation_list, pki.revocation_list({device.serial_hex}));
  CHECK((*credentials)->reload_if_changed());
  CHECK((*credentials)->revoked_count() == 1);
}

TEST_CASE("credentials files are looked at no more than once per check interval") {
  TestPki pki;
  TempDir dir;
  auto files = write_server_files(dir, pki, pki.revocation_list({}));
  auto credentials = ServerCredentials::load(files, 1000ms);
  REQUIRE(credentials);
  const auto t0 = std::chrono::steady_clock::now();
  auto first = (*credentials)->current(t0);
  write(files.revocation_list, pki.revocation_list({"0102"}));
  CHECK((*credentials)->current(t0 + 10ms) == first);
  CHECK((*credentials)->current(t0 + 2000ms) != first);
}

TEST_CASE("a back office cannot start without its revocation list file") {
  TestPki pki;
  TempDir dir;
  auto files = write_server_files(dir, pki, pki.revocation_list({}));
  std::filesystem::remove(files.revocation_list);
  auto credentials = ServerCredentials::load(files);
  REQUIRE_FALSE(credentials);
  CHECK(credentials.error().code == faregate::ErrorCode::kNotFound);
}
