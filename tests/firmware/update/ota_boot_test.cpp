// Firmware over the air with every real program: a faregate-backoffice daemon offering an image
// (through `faregate-backoffice firmware offer`), faregate-boot starting the real
// faregate-validator from a signed image, the validator downloading, verifying and installing the
// offered image, exiting with code 75 between taps, and the launcher booting the new image in
// trial mode until it reports healthy and is confirmed. The images carry the real validator
// program, signed with the DEVELOPMENT key this build's launcher trusts.

#include <catch2/catch.hpp>

#include <signal.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>
#include <thread>

#include "firmware/update/firmware_dir.h"
#include "firmware/update/installer.h"
#include "firmware/update/signing_key.h"
#include "tests/firmware/update/dev_signing_key.h"
#include "tests/firmware/update/process_runner.h"
#include "tests/firmware/update/update_test_support.h"
#include "tests/support/temp_dir.h"

namespace faregate::update {
namespace {

using namespace std::chrono_literals;

using testing::dev_key;

// A program run on its own thread until it exits; killed (SIGTERM) when the test ends.
class Background {
 public:
  explicit Background(std::vector<std::string> argv,
                      std::function<void(const std::string&)> on_line = {}) {
    thread_ = std::thread([this, argv = std::move(argv), on_line = std::move(on_line)] {
      result_ = testing::run_process(argv, [&](const std::string& line, pid_t pid) {
        pid_.store(pid);
        if (on_line) on_line(line);
      });
    });
  }
  ~Background() { stop(); }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  testing::ProcessResult stop() {
    if (thread_.joinable()) {
      if (const pid_t pid = pid_.load(); pid > 0) ::kill(pid, SIGTERM);
      thread_.join();
    }
    return result_;
  }

 private:
  std::atomic<pid_t> pid_{0};
  testing::ProcessResult result_;
  std::thread thread_;
};

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("a validator under faregate-boot downloads the offered image, restarts with code 75 and the launcher confirms the new image after its trial boot") {
  faregate::testing::TempDir office_dir;
  faregate::testing::TempDir gate;
  const Bytes program = read_file(FAREGATE_VALIDATOR_BIN);
  REQUIRE(program.size() > 1000);
  const Bytes running = testing::make_image(dev_key(), "1.0.0-real", 1, to_string(program));
  const Bytes offered = testing::make_image(dev_key(), "1.1.0-real", 2, to_string(program));

  // The back office, offering 1.1.0-real to group line-4.
  write_file(office_dir.path() / "offer.fgi", offered);
  const auto offer = testing::run_process(
      {FAREGATE_BACKOFFICE_BIN, "--data-dir", office_dir.path().string(), "firmware", "offer",
       "--image", (office_dir.path() / "offer.fgi").string(), "--group", "line-4"});
  INFO(offer.output);
  REQUIRE(offer.status == 0);
  std::promise<std::string> listening;
  bool told = false;
  Background office({FAREGATE_BACKOFFICE_BIN, "--data-dir", office_dir.path().string(), "--port",
                     "0", "--insecure-dev", "--log-level", "info"},
                    [&](const std::string& line) {
                      if (!told && line.starts_with("listening ")) {
                        told = true;
                        listening.set_value(line.substr(std::string("listening ").size()));
                      }
                    });
  auto address = listening.get_future();
  REQUIRE(address.wait_for(20s) == std::future_status::ready);
  const std::string backoffice = address.get();

  // The validator's data directory, running 1.0.0-real.
  REQUIRE(install_image(gate.path(), running, dev_key().public_key()));
  {
    std::ofstream key(gate.path() / "card_token.key");
    key << std::string(63, '0') << "7\n";
  }
  std::filesystem::permissions(gate.path() / "card_token.key",
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto rng = crypto::Drbg::deterministic(5);
  auto sealing = SigningKey::generate(rng);
  REQUIRE(sealing);
  std::ofstream(gate.path() / "sealing_public.pem") << sealing->public_key().pem();

  // The launcher runs until the new image is confirmed (then the test stops it), or until the
  // watchdog gives up on it.
  std::mutex mutex;
  std::condition_variable ended;
  bool done = false;
  bool confirmed = false;
  std::atomic<pid_t> launcher{0};
  std::thread watchdog([&] {
    std::unique_lock lock(mutex);
    if (!ended.wait_for(lock, 180s, [&] { return done; }) && launcher.load() > 0) {
      ::kill(launcher.load(), SIGTERM);
    }
  });
  const auto r = testing::run_process(
      {FAREGATE_BOOT_BIN, "--data-dir", gate.path().string(), "--restart-delay-ms", "0",
       "--health-timeout-ms", "60000", "--", "--data-dir", gate.path().string(), "--device-id",
       "gate-1", "--stop-id", "central", "--reader", "sim", "--backoffice", backoffice,
       "--insecure-dev", "--device-group", "line-4", "--sync-interval-s", "1", "--log-level",
       "info"},
      [&](const std::string& line, pid_t pid) {
        launcher.store(pid);
        if (!confirmed && line.find("version 1.1.0-real in slot b confirmed") != std::string::npos) {
          confirmed = true;
          ::kill(pid, SIGTERM);
        }
      });
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  ended.notify_all();
  watchdog.join();
  UNSCOPED_INFO(r.output);
  CHECK(confirmed);
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("firmware: downloading 1.1.0-real"));
  CHECK_THAT(r.output, Catch::Contains("firmware: 1.1.0-real installed in slot b"));
  CHECK_THAT(r.output, Catch::Contains("no tap in progress"));
  CHECK_THAT(r.output, Catch::Contains("validator asked for a restart"));
  CHECK_THAT(r.output, Catch::Contains("version 1.1.0-real (security counter 2) in trial mode"));

  PosixFileOps ops;
  const FirmwareDir dir(gate.path());
  auto state = dir.load_state(ops);
  REQUIRE(state);
  REQUIRE(state->has_value());
  CHECK((*state)->active == Slot::kB);
  CHECK_FALSE((*state)->pending.has_value());
  CHECK((*state)->security_counter == 2);
  CHECK(read_file(dir.slot_file(Slot::kB)) == offered);
  CHECK_FALSE(std::filesystem::exists(gate.path() / "firmware" / "download" / "image.part"));
  office.stop();
}

}  // namespace faregate::update
