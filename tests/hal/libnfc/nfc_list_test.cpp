// Debian's own nfc-list and nfc-scan-device (libnfc-bin) against the virtual PN532: proof that
// unmodified libnfc tools, opening the device and polling every modulation they know, work with
// the chip model. Skipped with a warning when they are not installed.
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "simulator/pn532/virtual_pn532.h"
#include "tests/simulator/pn532/test_card.h"

extern char** environ;

using namespace std::chrono_literals;
using faregate::simulator::VirtualPn532;
using faregate::testing::TestCard;

namespace {

std::optional<std::string> find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

struct Run {
  int exit_status = -1;
  std::string output;  // stdout and stderr together
  bool timed_out = false;
};

// Runs `program args...` with `extra_env` added, collecting its output; kills it after `limit`.
Run run(const std::string& program, const std::vector<std::string>& args,
        const std::vector<std::string>& extra_env, std::chrono::milliseconds limit) {
  Run result;
  std::array<int, 2> out{-1, -1};
  REQUIRE(::pipe(out.data()) == 0);

  std::vector<std::string> env_strings(extra_env);
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings{program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  pid_t pid = -1;
  const int spawned =
      ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    FAIL("cannot start " << program);
  }

  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::array<char, 4096> buffer{};
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(out[0], buffer.data(), buffer.size());
    if (n <= 0) break;
    result.output.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  return result;
}

std::vector<std::string> libnfc_env(const VirtualPn532& pn532) {
  // Only the virtual reader: no autoscan of this machine's serial ports and USB buses.
  return {"LIBNFC_DEVICE=" + pn532.connstring(), "LIBNFC_AUTO_SCAN=false",
          "LIBNFC_INTRUSIVE_SCAN=false", "LIBNFC_LOG_LEVEL=0"};
}

}  // namespace

TEST_CASE("nfc-list -v lists the card in the virtual PN532's field") {
  auto nfc_list = find_in_path("nfc-list");
  if (!nfc_list) {
    WARN("nfc-list not installed (Debian package libnfc-bin): test skipped");
    return;
  }
  auto pn532 = VirtualPn532::start();
  REQUIRE(pn532);
  (*pn532)->place_card(std::make_shared<TestCard>());

  const Run listed = run(*nfc_list, {"-v"}, libnfc_env(**pn532), 20000ms);
  INFO(listed.output);
  REQUIRE_FALSE(listed.timed_out);
  CHECK(listed.exit_status == 0);
  CHECK(listed.output.find("1 ISO14443A passive target(s) found") != std::string::npos);
  CHECK(listed.output.find("UID (NFCID1): 04  11  22  33  44  55  66") != std::string::npos);
  CHECK(listed.output.find("ATQA (SENS_RES): 03  44") != std::string::npos);
  CHECK(listed.output.find("SAK (SEL_RES): 20") != std::string::npos);
  CHECK(listed.output.find("ATS: 75  77  81  02  80") != std::string::npos);
  CHECK(listed.output.find("Compliant with ISO/IEC 14443-4") != std::string::npos);
  // The card was deselected after listing, as nfc-list does with every card it finds.
  CHECK((*pn532)->chip().command_count(0x44) >= 1);
}

TEST_CASE("nfc-scan-device -v finds the virtual PN532 and reads its chip and modulations") {
  auto nfc_scan_device = find_in_path("nfc-scan-device");
  if (!nfc_scan_device) {
    WARN("nfc-scan-device not installed (Debian package libnfc-bin): test skipped");
    return;
  }
  auto pn532 = VirtualPn532::start();
  REQUIRE(pn532);
  (*pn532)->place_card(std::make_shared<TestCard>());

  const Run scanned = run(*nfc_scan_device, {"-v"}, libnfc_env(**pn532), 20000ms);
  INFO(scanned.output);
  REQUIRE_FALSE(scanned.timed_out);
  CHECK(scanned.exit_status == 0);
  CHECK(scanned.output.find("1 NFC device(s) found") != std::string::npos);
  CHECK(scanned.output.find((*pn532)->connstring()) != std::string::npos);
  // -v opens the device: GetFirmwareVersion answered as a PN532 v1.6, as the real chip does.
  CHECK(scanned.output.find("chip: PN532 v1.6") != std::string::npos);
  // ("initator" is how libnfc 1.8 spells it.)
  CHECK(scanned.output.find("initator mode modulations: ISO/IEC 14443A") != std::string::npos);
  CHECK(scanned.output.find("error") == std::string::npos);
}

TEST_CASE("nfc-list finds no card in an empty field and the reader still works after it") {
  auto nfc_list = find_in_path("nfc-list");
  if (!nfc_list) {
    WARN("nfc-list not installed (Debian package libnfc-bin): test skipped");
    return;
  }
  auto pn532 = VirtualPn532::start();
  REQUIRE(pn532);
  const Run empty = run(*nfc_list, {}, libnfc_env(**pn532), 20000ms);
  INFO(empty.output);
  REQUIRE_FALSE(empty.timed_out);
  CHECK(empty.exit_status == 0);
  CHECK(empty.output.find("NFC device: user defined device opened") != std::string::npos);
  CHECK(empty.output.find("passive target(s) found") == std::string::npos);

  // nfc-list closed the device (InRelease, field off, PowerDown); a second run opens it again.
  (*pn532)->place_card(std::make_shared<TestCard>());
  const Run second = run(*nfc_list, {}, libnfc_env(**pn532), 20000ms);
  INFO(second.output);
  CHECK(second.output.find("UID (NFCID1): 04  11  22  33  44  55  66") != std::string::npos);
}
