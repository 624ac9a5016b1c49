// LibnfcReader driving the REAL libnfc (Debian's libnfc 1.8.0, pn532_uart driver) against the
// simulator's virtual PN532 on a pty: card detection, APDUs, a card leaving mid-exchange, a
// reader that vanishes and comes back, and waiting for the card to be taken away.
#include "hal/libnfc/libnfc_reader.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "simulator/pn532/virtual_pn532.h"
#include "tests/simulator/pn532/test_card.h"

using namespace std::chrono_literals;
using faregate::Bytes;
using faregate::ErrorCode;
using faregate::hal::CardInfo;
using faregate::hal::libnfc::LibnfcReader;
using faregate::simulator::VirtualPn532;
using faregate::simulator::VirtualPn532Options;
using faregate::testing::iso_dep_card_info;
using faregate::testing::long_get_data_apdu;
using faregate::testing::long_record;
using faregate::testing::select_visa_apdu;
using faregate::testing::TestCard;
using Clock = std::chrono::steady_clock;

namespace {

std::unique_ptr<VirtualPn532> start_pn532(VirtualPn532Options options = {}) {
  auto pn532 = VirtualPn532::start(std::move(options));
  REQUIRE(pn532);
  return std::move(*pn532);
}

std::unique_ptr<LibnfcReader> open_reader(const VirtualPn532& pn532) {
  auto reader = LibnfcReader::open(pn532.connstring());
  if (!reader) FAIL(reader.error().describe());
  return std::move(*reader);
}

CardInfo activate(LibnfcReader& reader) {
  auto card = reader.wait_for_card(1000ms);
  if (!card) FAIL(card.error().describe());
  REQUIRE(card->has_value());
  return **card;
}

// A virtual PN532 with the test card in its field and a libnfc reader on it.
struct Bench {
  std::shared_ptr<TestCard> card = std::make_shared<TestCard>();
  std::unique_ptr<VirtualPn532> pn532;
  std::unique_ptr<LibnfcReader> reader;

  explicit Bench(VirtualPn532Options options = {}) : pn532(start_pn532(std::move(options))) {
    pn532->place_card(card);
    reader = open_reader(*pn532);
  }
};

// Removes a temporary directory and what the tests put in it.
struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/faregate-libnfc-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() {
    ::unlink((path + "/ttyPN532").c_str());
    ::rmdir(path.c_str());
  }
};

}  // namespace

TEST_CASE("libnfc opens the virtual PN532 and reports the card's UID, ATQA, SAK and ATS") {
  Bench bench;
  CHECK(bench.reader->describe() == bench.pn532->connstring());
  const CardInfo info = activate(*bench.reader);
  const CardInfo expected = iso_dep_card_info();
  CHECK(info.uid == expected.uid);
  CHECK(info.atqa == expected.atqa);
  CHECK(info.sak == expected.sak);
  CHECK(info.ats == expected.ats);
  CHECK(info.supports_iso_dep());
}

TEST_CASE("a 4-byte UID card without ISO-DEP is reported without ATS") {
  auto pn532 = start_pn532();
  pn532->place_card(
      std::make_shared<TestCard>(CardInfo{Bytes{0xDE, 0xAD, 0xBE, 0xEF}, 0x0004, 0x08, {}}));
  auto reader = open_reader(*pn532);
  const CardInfo info = activate(*reader);
  CHECK(info.uid == Bytes{0xDE, 0xAD, 0xBE, 0xEF});
  CHECK(info.atqa == 0x0004);
  CHECK(info.sak == 0x08);
  CHECK(info.ats.empty());
}

TEST_CASE("a SELECT goes through libnfc to the card and its answer comes back") {
  Bench bench;
  activate(*bench.reader);
  auto response = bench.reader->transceive(select_visa_apdu(), 500ms);
  if (!response) FAIL(response.error().describe());
  CHECK(*response ==
        Bytes{0x6F, 0x09, 0x84, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10, 0x90, 0x00});
  REQUIRE(bench.card->apdus().size() == 1);
  CHECK(bench.card->apdus()[0] == select_visa_apdu());
}

TEST_CASE("an empty field gives no card, within the timeout") {
  auto pn532 = start_pn532();
  auto reader = open_reader(*pn532);
  const auto started = Clock::now();
  auto card = reader->wait_for_card(100ms);
  const auto took = Clock::now() - started;
  REQUIRE(card);
  CHECK_FALSE(card->has_value());
  CHECK(took >= 100ms);
  CHECK(took < 1000ms);
  CHECK(pn532->chip().command_count(0x4A) >= 2);  // it polled, not one infinite select
}

TEST_CASE("a card placed after an empty poll is found by the next wait") {
  auto pn532 = start_pn532();
  auto reader = open_reader(*pn532);
  auto card = std::make_shared<TestCard>();
  auto first = reader->wait_for_card(0ms);
  REQUIRE(first);
  CHECK_FALSE(first->has_value());
  pn532->place_card(card);
  auto found = reader->wait_for_card(1000ms);
  REQUIRE(found);
  CHECK(found->has_value());
}

TEST_CASE("the longest R-APDU comes back whole, also when the chip sends it in MI parts") {
  SECTION("in one frame") {
    Bench bench;
    activate(*bench.reader);
    auto response = bench.reader->transceive(long_get_data_apdu(), 500ms);
    if (!response) FAIL(response.error().describe());
    CHECK(*response == long_record());
    CHECK(bench.pn532->chip().command_count(0x40) == 1);
  }
  SECTION("in parts of 64 bytes") {
    VirtualPn532Options options;
    options.chip.max_exchange_chunk = 64;
    Bench bench(options);
    activate(*bench.reader);
    auto response = bench.reader->transceive(long_get_data_apdu(), 500ms);
    if (!response) FAIL(response.error().describe());
    CHECK(*response == long_record());
    CHECK(bench.pn532->chip().command_count(0x40) == 5);  // 258 = 4 x 64 + 2
    CHECK(bench.card->apdus().size() == 1);
  }
}

TEST_CASE("a card removed during an exchange gives kCardRemoved and the reader carries on") {
  Bench bench;
  activate(*bench.reader);
  bench.card->on_next_apdu([&bench] { bench.pn532->remove_card(); });
  auto response = bench.reader->transceive(select_visa_apdu(), 500ms);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == ErrorCode::kCardRemoved);
  CHECK(response.error().message.find(bench.pn532->connstring()) != std::string::npos);
  CHECK(response.error().message.find("Target Released") != std::string::npos);

  // No card is active any more, and the empty field is seen as empty.
  auto again = bench.reader->transceive(select_visa_apdu(), 500ms);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == ErrorCode::kInvalidArgument);
  auto removed = bench.reader->wait_for_removal(500ms);
  REQUIRE(removed);
  CHECK(*removed);
  auto next = bench.reader->wait_for_card(50ms);
  REQUIRE(next);
  CHECK_FALSE(next->has_value());

  bench.pn532->place_card(std::make_shared<TestCard>());
  activate(*bench.reader);
  CHECK(bench.reader->transceive(select_visa_apdu(), 500ms));
}

TEST_CASE("a card removed between exchanges gives kCardRemoved") {
  Bench bench;
  activate(*bench.reader);
  REQUIRE(bench.reader->transceive(select_visa_apdu(), 500ms));
  bench.pn532->remove_card();
  auto response = bench.reader->transceive(select_visa_apdu(), 500ms);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == ErrorCode::kCardRemoved);
}

TEST_CASE("a card that stops answering gives kTimeout") {
  Bench bench;
  activate(*bench.reader);
  bench.card->set_silent(true);
  auto response = bench.reader->transceive(select_visa_apdu(), 500ms);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == ErrorCode::kTimeout);
  CHECK(response.error().message.find("RF Transmission Error") != std::string::npos);
  bench.card->set_silent(false);
  CHECK(bench.reader->transceive(select_visa_apdu(), 500ms));
}

TEST_CASE("release deselects the card, and the same card is not read twice") {
  Bench bench;
  activate(*bench.reader);
  REQUIRE(bench.reader->release());
  CHECK(bench.card->deselects() == 1);
  auto again = bench.reader->wait_for_card(50ms);
  REQUIRE(again);
  CHECK_FALSE(again->has_value());
}

TEST_CASE("wait_for_removal is true once the card is taken away") {
  Bench bench;
  activate(*bench.reader);
  bench.pn532->remove_card();
  auto removed = bench.reader->wait_for_removal(500ms);
  if (!removed) FAIL(removed.error().describe());
  CHECK(*removed);
}

TEST_CASE("wait_for_removal sees a card leave while it watches") {
  // The card is taken away at the reader's second presence check (a raw R(NAK), D4 42 B2), from
  // the virtual PN532's own thread: no timing guesswork in the test.
  struct Watch {
    std::atomic<int> presence_checks{0};
    std::atomic<VirtualPn532*> pn532{nullptr};
  };
  auto watch = std::make_shared<Watch>();
  VirtualPn532Options options;
  options.trace = [watch](std::string_view line) {
    if (line == "host d442b2" && ++watch->presence_checks == 2) {
      if (VirtualPn532* pn532 = watch->pn532.load()) pn532->remove_card();
    }
  };
  Bench bench(options);
  watch->pn532 = bench.pn532.get();
  activate(*bench.reader);
  auto removed = bench.reader->wait_for_removal(3000ms);
  if (!removed) FAIL(removed.error().describe());
  CHECK(*removed);
  CHECK(watch->presence_checks == 2);
  CHECK_FALSE(bench.pn532->chip().has_card());
}

TEST_CASE("wait_for_removal is false while the card stays, within the timeout") {
  Bench bench;
  activate(*bench.reader);
  const auto started = Clock::now();
  auto removed = bench.reader->wait_for_removal(150ms);
  const auto took = Clock::now() - started;
  if (!removed) FAIL(removed.error().describe());
  CHECK_FALSE(*removed);
  CHECK(took >= 150ms);
  CHECK(took < 1000ms);
  // The card is halted again: a new wait does not read it a second time.
  auto again = bench.reader->wait_for_card(50ms);
  REQUIRE(again);
  CHECK_FALSE(again->has_value());
}

TEST_CASE("a reader that vanishes gives kUnavailable at once, not after the timeout") {
  Bench bench;
  activate(*bench.reader);
  bench.pn532->stop();
  const auto started = Clock::now();
  auto response = bench.reader->transceive(select_visa_apdu(), 2000ms);
  CHECK(Clock::now() - started < 1000ms);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == ErrorCode::kUnavailable);

  // Everything after that fails fast too, until reconnect().
  const auto waited = Clock::now();
  auto card = bench.reader->wait_for_card(2000ms);
  CHECK(Clock::now() - waited < 100ms);
  REQUIRE_FALSE(card);
  CHECK(card.error().code == ErrorCode::kUnavailable);
  auto removal = bench.reader->wait_for_removal(2000ms);
  REQUIRE_FALSE(removal);
  CHECK(removal.error().code == ErrorCode::kUnavailable);
}

TEST_CASE("a reader that vanishes while waiting for a card ends the wait with kUnavailable") {
  auto pn532 = start_pn532();
  auto reader = open_reader(*pn532);
  pn532->stop();
  const auto started = Clock::now();
  auto card = reader->wait_for_card(3000ms);
  CHECK(Clock::now() - started < 1000ms);
  REQUIRE_FALSE(card);
  CHECK(card.error().code == ErrorCode::kUnavailable);
}

TEST_CASE("a chip that stops answering gives kTimeout, bounded by the caller's timeout") {
  Bench bench;
  activate(*bench.reader);
  bench.pn532->set_unresponsive(true);
  auto started = Clock::now();
  auto response = bench.reader->transceive(select_visa_apdu(), 200ms);
  auto took = Clock::now() - started;
  REQUIRE_FALSE(response);
  CHECK(response.error().code == ErrorCode::kTimeout);
  CHECK(took >= 200ms);
  CHECK(took < 1000ms);

  // A poll waits for libnfc's own select timeout (300 ms), not forever.
  started = Clock::now();
  auto card = bench.reader->wait_for_card(50ms);
  took = Clock::now() - started;
  REQUIRE_FALSE(card);
  CHECK(card.error().code == ErrorCode::kTimeout);
  CHECK(took < 1000ms);

  // Once the chip answers again, so does the reader: no stale answer confuses it.
  bench.pn532->set_unresponsive(false);
  bench.pn532->remove_card();
  bench.pn532->place_card(bench.card);
  activate(*bench.reader);
  auto again = bench.reader->transceive(select_visa_apdu(), 500ms);
  if (!again) FAIL(again.error().describe());
  CHECK(again->size() == 13);
}

TEST_CASE("reconnect() reopens the reader once it is back under the same name") {
  TempDir dir;
  VirtualPn532Options options;
  options.link_path = dir.path + "/ttyPN532";
  auto first = start_pn532(options);
  first->place_card(std::make_shared<TestCard>());
  auto reader = open_reader(*first);
  activate(*reader);
  first->stop();
  REQUIRE_FALSE(reader->transceive(select_visa_apdu(), 500ms));

  // While nothing is there, reconnect fails and the reader stays unusable.
  auto early = reader->reconnect();
  REQUIRE_FALSE(early);
  CHECK(early.error().code == ErrorCode::kUnavailable);
  CHECK_FALSE(reader->wait_for_card(10ms));

  auto second = start_pn532(options);
  auto card = std::make_shared<TestCard>(
      CardInfo{Bytes{1, 2, 3, 4}, 0x0004, 0x20, Bytes{0x05, 0x78, 0x80, 0x70, 0x02}});
  second->place_card(card);
  auto reconnected = reader->reconnect();
  if (!reconnected) FAIL(reconnected.error().describe());
  const CardInfo info = activate(*reader);
  CHECK(info.uid == Bytes{1, 2, 3, 4});
  CHECK(info.ats == Bytes{0x05, 0x78, 0x80, 0x70, 0x02});
  CHECK(reader->transceive(select_visa_apdu(), 500ms));
}

TEST_CASE("opening a connstring with no reader behind it fails cleanly") {
  auto reader = LibnfcReader::open("pn532_uart:/nonexistent/ttyPN532");
  REQUIRE_FALSE(reader);
  CHECK(reader.error().code == ErrorCode::kUnavailable);
  auto empty = LibnfcReader::open("");
  REQUIRE_FALSE(empty);
  CHECK(empty.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("two taps in a row with different cards") {
  auto pn532 = start_pn532();
  auto reader = open_reader(*pn532);
  auto first = std::make_shared<TestCard>();
  pn532->place_card(first);
  CHECK(activate(*reader).uid == iso_dep_card_info().uid);
  REQUIRE(reader->transceive(select_visa_apdu(), 500ms));
  pn532->remove_card();
  auto removed = reader->wait_for_removal(500ms);
  REQUIRE(removed);
  CHECK(*removed);
  CHECK(first->deselects() == 0);  // it left before the reader could deselect it

  auto second = std::make_shared<TestCard>(
      CardInfo{Bytes{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, 0x0044, 0x20, Bytes{0x01}});
  pn532->place_card(second);
  const CardInfo info = activate(*reader);
  CHECK(info.uid == Bytes{9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  CHECK(info.ats == Bytes{0x01});
  REQUIRE(reader->transceive(select_visa_apdu(), 500ms));
  CHECK(second->apdus().size() == 1);
}

TEST_CASE("a garbled frame from the reader fails that exchange cleanly and the next one works") {
  Bench bench;
  activate(*bench.reader);
  bench.pn532->garble_next_responses(1);
  auto garbled = bench.reader->transceive(select_visa_apdu(), 500ms);
  REQUIRE_FALSE(garbled);
  INFO(garbled.error().describe());
  // libnfc 1.8.0 reports a bad checksum as an I/O error (NFC_EIO), so the backend takes the
  // reader for gone; reopening it (what the validator does on kUnavailable) recovers.
  CHECK(garbled.error().code == ErrorCode::kUnavailable);
  REQUIRE(bench.reader->reopen());
  activate(*bench.reader);
  auto next = bench.reader->transceive(select_visa_apdu(), 500ms);
  if (!next) FAIL(next.error().describe());
  CHECK(next->size() == 13);
}
