// The virtual PN532 on a real pty, spoken to with raw frames: ACK then response with nothing in
// between, the host's ACK (abort) and NACK, noise and truncated frames, and the reader vanishing.
#include "simulator/pn532/virtual_pn532.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>

#include "tests/simulator/pn532/pty_host.h"
#include "tests/simulator/pn532/test_card.h"

using namespace std::chrono_literals;
using faregate::Bytes;
using faregate::simulator::pn532_ack_frame;
using faregate::simulator::pn532_error_frame;
using faregate::simulator::pn532_information_frame;
using faregate::simulator::pn532_nack_frame;
using faregate::simulator::Pn532FrameKind;
using faregate::simulator::VirtualPn532;
using faregate::simulator::VirtualPn532Options;
using faregate::testing::PtyHost;
using faregate::testing::TestCard;

namespace {

std::unique_ptr<VirtualPn532> start(VirtualPn532Options options = {}) {
  auto pn532 = VirtualPn532::start(std::move(options));
  REQUIRE(pn532);
  return std::move(*pn532);
}

const Bytes kFirmwareFrame = *pn532_information_frame(0xD5, Bytes{0x03, 0x32, 0x01, 0x06, 0x07});

}  // namespace

TEST_CASE("the connstring names the pty for libnfc's pn532_uart driver") {
  auto pn532 = start();
  CHECK(pn532->device_path().rfind("/dev/pts/", 0) == 0);
  CHECK(pn532->connstring() == "pn532_uart:" + pn532->device_path());
  CHECK(pn532->serving());
}

TEST_CASE("a command is answered with ACK and the response and nothing between") {
  auto pn532 = start();
  PtyHost host(pn532->device_path());
  REQUIRE(host.is_open());
  // libnfc's wake-up preamble, then GetFirmwareVersion.
  Bytes wake{0x55, 0x55};
  wake.insert(wake.end(), 14, 0x00);
  REQUIRE(host.write_bytes(wake));
  REQUIRE(host.send_command({0x02}));
  Bytes expected = pn532_ack_frame();
  expected.insert(expected.end(), kFirmwareFrame.begin(), kFirmwareFrame.end());
  CHECK(host.read_bytes(expected.size()) == expected);
  CHECK(pn532->stats().commands == 1);
  CHECK(pn532->stats().skipped_bytes >= 16);
}

TEST_CASE("an unknown command gets ACK and the error frame") {
  auto pn532 = start();
  PtyHost host(pn532->device_path());
  REQUIRE(host.send_command({0x8C, 0x00}));
  Bytes expected = pn532_ack_frame();
  const Bytes error = pn532_error_frame();
  expected.insert(expected.end(), error.begin(), error.end());
  CHECK(host.read_bytes(expected.size()) == expected);
}

TEST_CASE("a NACK from the host brings the last response again") {
  auto pn532 = start();
  PtyHost host(pn532->device_path());
  REQUIRE(host.transact({0x02}));
  REQUIRE(host.write_bytes(pn532_nack_frame()));
  // The response again, without a second ACK in front of it.
  auto again = host.read_frame();
  REQUIRE(again);
  CHECK(again->kind == Pn532FrameKind::kInformation);
  CHECK(again->data == Bytes{0x03, 0x32, 0x01, 0x06, 0x07});
  CHECK(pn532->stats().nacks == 1);
}

TEST_CASE("an ACK from the host (abort) is not answered") {
  auto pn532 = start();
  PtyHost host(pn532->device_path());
  REQUIRE(host.write_bytes(pn532_ack_frame()));
  REQUIRE(host.send_command({0x02}));
  // If the abort had produced any byte, it would come before this exact sequence.
  Bytes expected = pn532_ack_frame();
  expected.insert(expected.end(), kFirmwareFrame.begin(), kFirmwareFrame.end());
  CHECK(host.read_bytes(expected.size()) == expected);
  CHECK(pn532->stats().aborts == 1);
}

TEST_CASE("noise and frames with bad checksums are dropped, the next command is answered") {
  auto pn532 = start();
  PtyHost host(pn532->device_path());
  Bytes bad = *pn532_information_frame(0xD4, Bytes{0x02});
  bad[bad.size() - 2] ^= 0xFF;
  REQUIRE(host.write_bytes(Bytes{0x13, 0x37, 0x00, 0xFF, 0x02, 0x00, 0x42}));
  REQUIRE(host.write_bytes(bad));
  auto reply = host.transact({0x00, 0x00, 0x01, 0x02});
  REQUIRE(reply);
  CHECK(*reply == Bytes{0x01, 0x00, 0x01, 0x02});
  CHECK(pn532->stats().invalid_frames >= 2);
  CHECK(pn532->stats().commands == 1);
}

TEST_CASE("a frame cut short is dropped when the line goes quiet") {
  VirtualPn532Options options;
  options.inter_byte_timeout = 20ms;
  auto pn532 = start(options);
  PtyHost host(pn532->device_path());
  // The header promises 64 bytes; only two come, then a complete command.
  REQUIRE(host.write_bytes(Bytes{0x00, 0x00, 0xFF, 0x40, 0xC0, 0xD4, 0x40}));
  auto reply = host.transact({0x02});
  REQUIRE(reply);
  CHECK(*reply == Bytes{0x03, 0x32, 0x01, 0x06, 0x07});
}

TEST_CASE("the card in the field is listed over the pty") {
  auto pn532 = start();
  PtyHost host(pn532->device_path());
  CHECK(host.transact({0x4A, 0x01, 0x00}) == Bytes{0x4B, 0x00});
  pn532->place_card(std::make_shared<TestCard>());
  auto listed = host.transact({0x4A, 0x01, 0x00});
  REQUIRE(listed);
  CHECK(listed->size() == 20);
  CHECK(host.transact({0x40, 0x01, 0x00, 0xB0, 0x00, 0x00, 0x00}) == Bytes{0x41, 0x00, 0x6D, 0x00});
}

TEST_CASE("the pty keeps working when the host closes and opens it again") {
  auto pn532 = start();
  {
    PtyHost first(pn532->device_path());
    REQUIRE(first.transact({0x02}));
  }
  PtyHost second(pn532->device_path());
  REQUIRE(second.is_open());
  CHECK(second.transact({0x02}) == Bytes{0x03, 0x32, 0x01, 0x06, 0x07});
}

TEST_CASE("an unresponsive chip reads commands but answers none until it recovers") {
  auto pn532 = start();
  PtyHost host(pn532->device_path());
  pn532->set_unresponsive(true);
  REQUIRE(host.send_command({0x02}));
  // Nothing comes back: the read gives up after its bounded wait.
  CHECK(host.read_bytes(1, 200ms).empty());
  CHECK(pn532->stats().ignored == 1);
  pn532->set_unresponsive(false);
  CHECK(host.transact({0x02}) == Bytes{0x03, 0x32, 0x01, 0x06, 0x07});
}

TEST_CASE("a stopped virtual PN532 hangs up on the host") {
  auto pn532 = start();
  PtyHost host(pn532->device_path());
  REQUIRE(host.transact({0x02}));
  pn532->stop();
  CHECK_FALSE(pn532->serving());
  CHECK(host.sees_hangup());
  pn532->stop();  // idempotent
}

TEST_CASE("a link path gives the reader a stable name and goes away with it") {
  char dir_template[] = "/tmp/faregate-pn532-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string link = std::string(dir_template) + "/ttyPN532";
  {
    VirtualPn532Options options;
    options.link_path = link;
    auto pn532 = start(options);
    CHECK(pn532->connstring() == "pn532_uart:" + link);
    PtyHost host(link);
    CHECK(host.transact({0x02}) == Bytes{0x03, 0x32, 0x01, 0x06, 0x07});
    pn532->stop();
    struct stat st {};
    CHECK(::lstat(link.c_str(), &st) != 0);
  }
  // A link path that is a regular file is not replaced.
  const std::string file = std::string(dir_template) + "/file";
  {
    faregate::simulator::UniqueFd created(::creat(file.c_str(), 0600));
    REQUIRE(created.valid());
  }
  VirtualPn532Options options;
  options.link_path = file;
  auto refused = VirtualPn532::start(options);
  CHECK_FALSE(refused);
  ::unlink(file.c_str());
  ::rmdir(dir_template);
}
