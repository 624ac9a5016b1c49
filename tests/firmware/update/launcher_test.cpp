// faregate-boot as it runs on a validator: a real launcher process starting real programs (small
// shell scripts standing in for the validator), trial boots, health reports, rollback, refusals.
// Images are signed with the DEVELOPMENT key that this build's launcher trusts.

#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "firmware/update/boot_state.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/image_signer.h"
#include "firmware/update/installer.h"
#include "tests/firmware/update/dev_signing_key.h"
#include "tests/firmware/update/process_runner.h"
#include "tests/firmware/update/update_test_support.h"
#include "tests/support/temp_dir.h"

namespace faregate::update {
namespace {

using testing::dev_key;

// Stand-ins for the validator. Each prints what it was started as.
const std::string kIntro =
    "#!/bin/sh\n"
    "echo \"validator $FAREGATE_FIRMWARE_VERSION slot $FAREGATE_BOOT_SLOT trial "
    "$FAREGATE_BOOT_TRIAL args: $*\"\n";
const std::string kReportHealthy =
    "printf 'healthy boot %s\\n' \"$FAREGATE_BOOT_ID\" > \"$FAREGATE_HEALTH_FILE.tmp\"\n"
    "mv \"$FAREGATE_HEALTH_FILE.tmp\" \"$FAREGATE_HEALTH_FILE\"\n";
const std::string kHealthyThenExit = kIntro + kReportHealthy + "exit 0\n";
const std::string kFailsAtStart = kIntro + "echo 'cannot open reader' >&2\nexit 3\n";
const std::string kHangsUnhealthy = kIntro + "exec sleep 600\n";
const std::string kCrashes = kIntro + "kill -SEGV $$\n";
const std::string kHealthyThenRuns = kIntro + kReportHealthy + "echo running\nexec sleep 600\n";

Bytes image(const std::string& version, std::uint64_t counter, const std::string& script) {
  return testing::make_image(dev_key(), version, counter, script);
}

struct Gate {
  faregate::testing::TempDir data;
  PosixFileOps ops;
  FirmwareDir dir{data.path()};

  void install(const Bytes& img) {
    auto r = install_image(data.path(), img, dev_key().public_key(), ops);
    REQUIRE(r);
  }
  BootState state() {
    auto s = dir.load_state(ops);
    REQUIRE(s);
    REQUIRE(s->has_value());
    return **s;
  }
  void save(const BootState& s) { REQUIRE(dir.save_state(ops, s)); }
  void write_slot(Slot slot, const Bytes& img) {
    REQUIRE(atomic_write_file(ops, dir.slot_file(slot), img));
  }

  testing::ProcessResult boot(std::vector<std::string> options,
                              std::vector<std::string> validator_args = {},
                              const std::function<void(const std::string&, pid_t)>& on_line = {}) {
    std::vector<std::string> argv = {FAREGATE_BOOT_BIN, "--data-dir", data.path().string(),
                                     "--restart-delay-ms", "0"};
    argv.insert(argv.end(), options.begin(), options.end());
    if (!validator_args.empty()) {
      argv.push_back("--");
      argv.insert(argv.end(), validator_args.begin(), validator_args.end());
    }
    auto result = testing::run_process(argv, on_line);
    UNSCOPED_INFO(result.output);
    return result;
  }
};

}  // namespace

TEST_CASE_METHOD(Gate,
                 "a trial image that exits before reporting healthy is rolled back automatically") {
  install(image("1.0.0", 1, kHealthyThenExit));
  install(image("2.0.0", 2, kFailsAtStart));
  const auto r = boot({"--max-trial-boots", "2"}, {"--device-id", "gate-7"});
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("trial boot 1 of 2"));
  CHECK_THAT(r.output, Catch::Contains("trial boot 2 of 2"));
  CHECK_THAT(r.output, Catch::Contains("validator 2.0.0 slot b trial 1"));
  CHECK_THAT(r.output, Catch::Contains("counted as a failed boot"));
  CHECK_THAT(r.output, Catch::Contains("did not report healthy in 2 boots: rolled back"));
  CHECK_THAT(r.output, Catch::Contains("validator 1.0.0 slot a trial 0 args: --device-id gate-7"));
  const BootState s = state();
  CHECK(s.active == Slot::kA);
  CHECK_FALSE(s.pending);
  CHECK(s.security_counter == 1);
}

TEST_CASE_METHOD(Gate, "a trial image that never reports healthy is stopped and rolled back") {
  install(image("1.0.0", 1, kHealthyThenExit));
  install(image("2.0.0", 2, kHangsUnhealthy));
  const auto r = boot({"--max-trial-boots", "1", "--health-timeout-ms", "300"});
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("did not report healthy within 300 ms"));
  CHECK_THAT(r.output, Catch::Contains("rolled back"));
  CHECK_THAT(r.output, Catch::Contains("validator 1.0.0 slot a"));
  CHECK(state().active == Slot::kA);
  CHECK_FALSE(state().pending);
}

TEST_CASE_METHOD(Gate, "a crashing trial image is rolled back") {
  install(image("1.0.0", 1, kHealthyThenExit));
  install(image("2.0.0", 2, kCrashes));
  const auto r = boot({"--max-trial-boots", "1"});
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("killed by signal 11"));
  CHECK_THAT(r.output, Catch::Contains("rolled back"));
  CHECK(state().active == Slot::kA);
}

TEST_CASE_METHOD(
    Gate, "a trial image that reports healthy is confirmed and older images are refused after") {
  install(image("1.0.0", 1, kHealthyThenExit));
  install(image("2.0.0", 2, kHealthyThenExit));
  const auto r = boot({"--once"});
  CHECK(r.status == 0);
  CHECK_THAT(r.output,
             Catch::Contains("version 2.0.0 in slot b confirmed, security counter now 2"));
  CHECK(state().active == Slot::kB);
  CHECK(state().security_counter == 2);

  auto old =
      install_image(data.path(), image("1.9.0", 1, kHealthyThenExit), dev_key().public_key(), ops);
  REQUIRE_FALSE(old);
  CHECK_THAT(old.error().message,
             Catch::Contains("security counter 1") && Catch::Contains("rollback"));
  const auto again = boot({"--once"});
  CHECK(again.status == 0);
  CHECK_THAT(again.output, Catch::Contains("validator 2.0.0 slot b trial 0"));
}

TEST_CASE_METHOD(Gate,
                 "tampered, foreign-key and lower-counter images are refused at boot and the "
                 "current image runs") {
  install(image("1.0.0", 1, kHealthyThenExit));
  install(image("3.0.0", 3, kHealthyThenExit));
  REQUIRE(boot({"--once"}).status == 0);  // 3.0.0 confirmed in slot b, counter 3

  Bytes tampered = image("4.0.0", 4, kHealthyThenExit);
  tampered[kImageHeaderBytes + 12] ^= 0x01;
  const Bytes foreign = testing::make_image(testing::seeded_key(77), "4.0.0", 4, kHealthyThenExit);
  const Bytes lower = image("2.0.0", 2, kHealthyThenExit);
  for (const auto& [bad, message] : std::vector<std::pair<Bytes, std::string>>{
           {tampered, "payload was damaged or altered"},
           {foreign, "signed by a different key"},
           {lower, "security counter 2 of image 2.0.0 is lower than 3"}}) {
    // As if something wrote the slot and the state directly, bypassing faregate-flash's checks.
    write_slot(Slot::kA, bad);
    BootState s = state();
    s.pending = Slot::kA;
    s.pending_image = crypto::sha256(bad);
    save(s);
    const auto r = boot({"--once"});
    CHECK(r.status == 0);
    CHECK_THAT(r.output,
               Catch::Contains("pending image in slot a refused: ") && Catch::Contains(message));
    CHECK_THAT(r.output, Catch::Contains("validator 3.0.0 slot b trial 0"));
    CHECK_FALSE(state().pending);
  }
}

TEST_CASE_METHOD(
    Gate, "a confirmed image that keeps crashing gives way to the previous confirmed image") {
  const Bytes v1 = image("1.0.0", 1, kHealthyThenExit);
  const Bytes v11 = image("1.1.0", 1, kFailsAtStart);
  install(v1);
  write_slot(Slot::kB, v11);
  BootState s = state();
  s.active = Slot::kB;
  s.confirmed_image[1] =
      crypto::sha256(v11);  // 1.1.0 once ran well; now its reader config breaks it
  save(s);
  const auto r = boot({"--max-failed-boots", "2"});
  CHECK(r.status == 0);
  CHECK_THAT(
      r.output,
      Catch::Contains("did not report healthy in 2 boots in a row: back to the previous image"));
  CHECK_THAT(r.output, Catch::Contains("validator 1.0.0 slot a"));
  CHECK(state().active == Slot::kA);
}

TEST_CASE_METHOD(Gate,
                 "SIGTERM to the launcher stops the validator and ends the launcher cleanly") {
  install(image("1.0.0", 1, kHealthyThenRuns));
  bool signalled = false;
  const auto r = boot({}, {}, [&](const std::string& line, pid_t pid) {
    if (!signalled && line.find("boot 1: healthy") != std::string::npos) {
      signalled = true;
      ::kill(pid, SIGTERM);
    }
  });
  CHECK(signalled);
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("stop requested"));
}

TEST_CASE_METHOD(Gate, "with --once the launcher returns the validator's exit status") {
  install(image("1.0.0", 1, kFailsAtStart));
  const auto r = boot({"--once"});
  CHECK(r.status == 3);
  CHECK(state().failed_boots == 1);
}

TEST_CASE_METHOD(Gate, "a data directory without a usable image is reported and nothing starts") {
  const auto r = boot({});
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("nothing to boot"));
}

TEST_CASE_METHOD(Gate,
                 "the real validator started in trial mode reports healthy and is confirmed") {
  std::ifstream in(FAREGATE_VALIDATOR_BIN, std::ios::binary);
  const std::string program((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(program.size() > 1000);
  install(image("0.9.0", 1, kHealthyThenExit));
  install(image("1.0.0-real", 1, program));
  {
    std::ofstream key(data.path() / "card_token.key");
    key << std::string(63, '0') << "7\n";
  }
  std::filesystem::permissions(
      data.path() / "card_token.key",
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto rng = crypto::Drbg::deterministic(5);
  auto sealing = SigningKey::generate(rng);  // any P-256 public key will do as the back office's
  REQUIRE(sealing);
  std::ofstream(data.path() / "sealing_public.pem") << sealing->public_key().pem();

  bool stopped = false;
  const auto r = boot(
      {"--health-timeout-ms", "60000"},
      {"--data-dir", data.path().string(), "--device-id", "gate-1", "--stop-id", "central",
       "--reader", "sim", "--backoffice", "127.0.0.1:9", "--insecure-dev", "--log-level", "warn"},
      [&](const std::string& line, pid_t pid) {
        if (!stopped && line.find("version 1.0.0-real in slot b confirmed") != std::string::npos) {
          stopped = true;
          ::kill(pid, SIGTERM);
        }
      });
  CHECK(stopped);
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("validator stopped"));
  CHECK(state().active == Slot::kB);
  CHECK_FALSE(state().pending);
}

TEST_CASE("faregate-boot explains itself and refuses bad arguments") {
  faregate::testing::TempDir data;
  const auto help = testing::run_process({FAREGATE_BOOT_BIN, "--help"});
  CHECK(help.status == 0);
  CHECK_THAT(help.output, Catch::Contains("Examples:") && Catch::Contains("Exit codes"));
  const auto key = testing::run_process({FAREGATE_BOOT_BIN, "--show-key"});
  CHECK(key.status == 0);
  CHECK_THAT(key.output, Catch::Contains("BEGIN PUBLIC KEY") && Catch::Contains("DEVELOPMENT"));
  CHECK(testing::run_process({FAREGATE_BOOT_BIN}).status == 1);
  CHECK(testing::run_process({FAREGATE_BOOT_BIN, "--data-dir", "/nonexistent/dir"}).status == 1);
  CHECK(testing::run_process({FAREGATE_BOOT_BIN, "--data-dir", data.path().string(), "--bogus"})
            .status == 1);
  CHECK(testing::run_process(
            {FAREGATE_BOOT_BIN, "--data-dir", data.path().string(), "--max-trial-boots", "0"})
            .status == 1);
}

}  // namespace faregate::update
