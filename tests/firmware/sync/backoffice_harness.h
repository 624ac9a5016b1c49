#pragma once
// An in-process back office for the sync agent tests: IngestServer over mutual TLS with
// credentials from a throw-away CA, a real SQLite tap store and a real push store, in a scratch
// directory. Validators get device contexts from the same CA.

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "backoffice/denylist/push_store.h"
#include "backoffice/ingest/ingest_server.h"
#include "backoffice/store/sqlite_tap_store.h"
#include "common/tls/server_credentials.h"
#include "tests/common/tls/test_pki.h"
#include "tests/support/temp_dir.h"

namespace faregate::testing {

class BackofficeHarness {
 public:
  explicit BackofficeHarness(std::uint64_t pki_seed = 1, ingest::IngestOptions options = {},
                             denylist::PushStoreOptions push_options = {})
      : pki_(pki_seed) {
    const auto tls_dir = dir_.path() / "tls";
    std::filesystem::create_directories(tls_dir);
    files_ = tls::server_files_in(tls_dir);
    write(files_.certificate, pki_.server().certificate_pem);
    write(files_.private_key, pki_.server().private_key_pem);
    write(files_.client_ca, pki_.ca_pem());
    write(files_.revocation_list, pki_.revocation_list({}));
    credentials_ = must(tls::ServerCredentials::load(files_));
    store_ = must(store::SqliteTapStore::open(dir_.path() / "taps.db"));
    pushes_ = must(denylist::PushStore::open(dir_.path() / "pushes.db", push_options));
    options_ = std::move(options);
    options_.tls = credentials_;
    options_.pushes = pushes_.get();
    start();
  }

  // Starts (or restarts, on the same port) the ingest server.
  void start() {
    server_ = std::make_unique<ingest::IngestServer>(*store_, options_);
    port_ = must(server_->start());
    options_.port = port_;
  }
  void stop() { server_.reset(); }

  std::shared_ptr<const tls::ClientContext> device(const std::string& id) {
    return pki_.client_context(id);
  }

  std::uint16_t port() const { return port_; }
  TestPki& pki() { return pki_; }
  store::SqliteTapStore& store() { return *store_; }
  denylist::PushStore& pushes() { return *pushes_; }
  ingest::IngestServer& server() { return *server_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  template <typename T>
  static T must(Result<T> result) {
    if (!result) throw std::runtime_error("back office harness: " + result.error().describe());
    return std::move(*result);
  }
  static void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }

  TempDir dir_;
  TestPki pki_;
  tls::ServerFiles files_;
  std::shared_ptr<tls::ServerCredentials> credentials_;
  std::unique_ptr<store::SqliteTapStore> store_;
  std::unique_ptr<denylist::PushStore> pushes_;
  ingest::IngestOptions options_;
  std::unique_ptr<ingest::IngestServer> server_;
  std::uint16_t port_ = 0;
};

}  // namespace faregate::testing
