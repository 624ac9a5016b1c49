// faregate-validator --maintenance-port as a technician meets it: the real validator program with
// credentials from faregate-keys (PkiDirectory), and the real faregate-flash program. Images are
// signed with the DEVELOPMENT key that this build's validator (like its launcher) trusts.

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <fstream>
#include <future>
#include <thread>

#include "common/crypto.h"
#include "firmware/update/signing_key.h"
#include "tests/firmware/update/process_runner.h"
#include "tests/firmware/update/update_test_support.h"
#include "tests/support/temp_dir.h"
#include "tools/keys/pki_directory.h"

namespace {

using namespace std::chrono_literals;
namespace ut = faregate::update::testing;

// A port that was free a moment ago (the validator takes a fixed --maintenance-port).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

void write_file(const std::filesystem::path& path, const faregate::Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("faregate-validator --maintenance-port takes an image from a technician's faregate-flash and refuses a device certificate and a tampered image") {
  faregate::testing::TempDir dir;
  auto drbg = faregate::crypto::Drbg::deterministic(21);
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  auto pki = faregate::keys::PkiDirectory::init(dir.path() / "pki", "Operator CA", "Metro", 30, now, drbg);
  REQUIRE(pki);
  const auto gate = dir.path() / "gate";
  REQUIRE(pki->issue_device(gate / "tls", "gate-1", 30, now, drbg));
  REQUIRE(pki->issue_maintenance(gate / "tls", "gate-1", 30, now, drbg));
  REQUIRE(pki->issue_technician(dir.path() / "alice", "alice", 30, now, drbg));
  std::ofstream(gate / "card_token.key") << std::string(63, '0') << "7\n";
  std::filesystem::permissions(gate / "card_token.key", std::filesystem::perms::owner_read |
                                                            std::filesystem::perms::owner_write);
  auto sealing = faregate::update::SigningKey::generate(drbg);
  REQUIRE(sealing);
  std::ofstream(gate / "sealing_public.pem") << sealing->public_key().pem();

  auto dev_key = faregate::update::SigningKey::from_file(FAREGATE_DEV_SIGNING_KEY);
  REQUIRE(dev_key);
  const auto image = ut::make_image(*dev_key, "3.0.0", 1, "#!/bin/sh\necho validator 3.0.0\n");
  write_file(dir.path() / "v3.fgi", image);
  auto tampered = image;
  tampered[170] ^= 0x01;
  write_file(dir.path() / "tampered.fgi", tampered);

  const std::uint16_t port = free_port();
  std::promise<void> listening;
  std::atomic<bool> told{false};
  std::atomic<pid_t> validator{0};
  faregate::update::testing::ProcessResult validator_result;
  std::thread runner([&] {
    validator_result = ut::run_process(
        {FAREGATE_VALIDATOR_BIN, "--data-dir", gate.string(), "--device-id", "gate-1",
         "--stop-id", "central", "--reader", "sim", "--backoffice", "127.0.0.1:9",
         "--insecure-dev", "--maintenance-port", std::to_string(port), "--log-level", "info"},
        [&](const std::string& line, pid_t pid) {
          validator.store(pid);
          if (line.find("maintenance port listening") != std::string::npos && !told.exchange(true)) {
            listening.set_value();
          }
        });
    if (!told.exchange(true)) listening.set_value();  // it ended before listening
  });
  const bool up = listening.get_future().wait_for(30s) == std::future_status::ready;

  const auto flash = [&](const std::string& who, std::vector<std::string> extra) {
    const auto folder = dir.path() / who;
    std::vector<std::string> argv = {FAREGATE_FLASH_BIN, "--device",
                                     "127.0.0.1:" + std::to_string(port)};
    if (who == "alice") {
      argv.insert(argv.end(), {"--cert", (folder / "technician.crt").string(), "--key",
                               (folder / "technician.key").string(), "--ca",
                               (folder / "operator-ca.crt").string()});
    } else {
      argv.insert(argv.end(), {"--cert", (gate / "tls" / "device.crt").string(), "--key",
                               (gate / "tls" / "device.key").string(), "--ca",
                               (gate / "tls" / "backoffice-ca.crt").string()});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto result = ut::run_process(argv);
    UNSCOPED_INFO(result.output);
    return result;
  };
  if (up) {
    auto as_device = flash("device", {"--image", (dir.path() / "v3.fgi").string()});
    CHECK(as_device.status == 1);
    auto bad = flash("alice", {"--image", (dir.path() / "tampered.fgi").string()});
    CHECK(bad.status == 2);
    CHECK_THAT(bad.output, Catch::Contains("image_refused"));
    auto good = flash("alice", {"--image", (dir.path() / "v3.fgi").string()});
    CHECK(good.status == 0);
    CHECK_THAT(good.output, Catch::Contains("gate-1: firmware 3.0.0 installed in slot a"));
    auto status = flash("alice", {"--status"});
    CHECK(status.status == 0);
    CHECK_THAT(status.output, Catch::Contains("slot a:           version 3.0.0"));
  }
  if (const pid_t pid = validator.load(); pid > 0) ::kill(pid, SIGTERM);
  runner.join();
  UNSCOPED_INFO(validator_result.output);
  REQUIRE(up);
  CHECK(validator_result.status == 0);  // still running until told to stop
  CHECK_THAT(validator_result.output,
             Catch::Contains("connection refused: TLS handshake") &&
                 Catch::Contains("refused (image_refused)") &&
                 Catch::Contains("technician alice installed firmware 3.0.0"));
}
