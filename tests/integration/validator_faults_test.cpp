// The faregate-validator program, reading cards through the real libnfc from a virtual PN532 on
// a pty, when things go wrong in the middle of a tap: the card is pulled away, a frame from the
// reader arrives garbled, the reader vanishes. Each time the validator must log what happened,
// journal nothing for the broken tap (no half-written record), keep running, and journal the
// rider's next tap normally.

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "firmware/tap/tap_pipeline.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/network/journal_reader.h"
#include "simulator/network/validator_process.h"
#include "simulator/pn532/virtual_pn532.h"
#include "tests/support/temp_dir.h"

using namespace faregate;
using faregate::simulator::ChildProcess;
using faregate::simulator::VirtualPn532;
using faregate::testing::TempDir;

namespace {

constexpr std::uint64_t kKeySeed = 31;
const std::string kDevice = "faulty-gate-1";

// A virtual card that does something odd when asked its n-th APDU: `hook` runs first and may
// answer with an error instead of the card.
class HookedCard final : public hal::sim::ContactlessCard {
 public:
  HookedCard(std::shared_ptr<hal::sim::ContactlessCard> inner, std::size_t at_apdu,
             std::function<std::optional<Error>()> hook)
      : inner_(std::move(inner)), at_apdu_(at_apdu), hook_(std::move(hook)) {}
  hal::CardInfo info() const override { return inner_->info(); }
  Result<Bytes> respond(ByteView command_apdu) override {
    if (++apdus_ == at_apdu_) {
      if (auto error = hook_()) return std::unexpected(*error);
    }
    return inner_->respond(command_apdu);
  }
  void on_deselect() override { inner_->on_deselect(); }

 private:
  std::shared_ptr<hal::sim::ContactlessCard> inner_;
  std::size_t at_apdu_;
  std::function<std::optional<Error>()> hook_;
  std::size_t apdus_ = 0;
};

std::shared_ptr<hal::sim::ContactlessCard> visa(std::uint64_t seed) {
  auto card = simulator::make_card("visa", seed);
  REQUIRE(card);
  return *card;
}

// A validator process on its own virtual PN532, reachable under a fixed link name so that a
// reader that vanished can come back under the same connstring.
class Bench {
 public:
  Bench() {
    start_reader();
    const auto data = dir_.path() / "validator";
    REQUIRE(simulator::provision_validator_dir(data, kKeySeed, {}, kDevice));
    REQUIRE(simulator::write_simulator_ca_keys(dir_.path() / "ca_keys.json"));
    // Nothing listens on the back-office port: syncs fail and are retried, which must not
    // disturb the taps.
    auto child = ChildProcess::spawn(
        {FAREGATE_VALIDATOR_BIN, "--data-dir", data.string(), "--device-id", kDevice,
         "--stop-id", "central", "--reader", pn532_->connstring(), "--ca-keys",
         (dir_.path() / "ca_keys.json").string(), "--backoffice", "127.0.0.1:9",
         "--insecure-dev", "--sync-interval-s", "3600", "--log-level", "debug"});
    REQUIRE(child);
    validator_ = std::move(*child);
    REQUIRE(wait_for("validator " + kDevice + " at "));
  }

  ~Bench() {
    if (validator_) (void)validator_->kill_and_wait();
  }

  VirtualPn532& reader() { return *pn532_; }

  // A new virtual PN532 under the same name (the old one, if any, must be stopped).
  void start_reader() {
    simulator::VirtualPn532Options options;
    options.link_path = (dir_.path() / "reader").string();
    auto started = VirtualPn532::start(options);
    REQUIRE(started);
    if (pn532_) retired_.push_back(std::move(pn532_));
    pn532_ = std::move(*started);
  }

  // Reads the validator's log until a message starts with `prefix` (within 20 s); returns it.
  std::optional<std::string> wait_for(const std::string& prefix) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      for (; seen_ < lines_.size(); ++seen_) {
        auto parsed = simulator::parse_log_line(lines_[seen_]);
        if (parsed && parsed->message.starts_with(prefix)) return std::string(parsed->message);
      }
      if (std::chrono::steady_clock::now() > deadline || validator_->eof()) return std::nullopt;
      validator_->wait_lines(lines_, 100);
    }
  }

  // Every log line so far whose message starts with `prefix`.
  std::size_t count(const std::string& prefix) {
    validator_->read_lines(lines_);
    std::size_t n = 0;
    for (const auto& line : lines_) {
      auto parsed = simulator::parse_log_line(line);
      n += parsed && parsed->message.starts_with(prefix);
    }
    return n;
  }

  // SIGTERM; returns the exit code, then the journal can be read.
  int stop() {
    validator_->terminate();
    const int code = validator_->wait_or_kill(20'000);
    validator_->read_lines(lines_);
    return code;
  }

  simulator::JournalContents journal() {
    auto contents = simulator::read_journal(dir_.path() / "validator" / "journal.db");
    REQUIRE(contents);
    return std::move(*contents);
  }

  std::string log() const {
    std::string all;
    for (const auto& line : lines_) all += line + "\n";
    return all;
  }

 private:
  TempDir dir_;
  std::unique_ptr<VirtualPn532> pn532_;
  std::vector<std::unique_ptr<VirtualPn532>> retired_;
  std::unique_ptr<ChildProcess> validator_;
  std::vector<std::string> lines_;
  std::size_t seen_ = 0;
};

const std::string kAcceptedFirstTap = "tap device=" + kDevice + " seq=1 decision=accept reason=ok";

}  // namespace

TEST_CASE("a card pulled away in the middle of the exchange journals nothing and the rider taps again") {
  Bench bench;
  // The card leaves the field when asked its third APDU (GET PROCESSING OPTIONS).
  bench.reader().place_card(std::make_shared<HookedCard>(visa(1), 3, [] {
    return std::optional<Error>(Error{ErrorCode::kCardRemoved, "pulled away"});
  }));
  auto left = bench.wait_for("card left " + kDevice + " before it was read");
  INFO(bench.log());
  REQUIRE(left);
  CHECK(bench.wait_for("gate: text " + std::string(tap::rider_message("card_removed"))));
  CHECK(bench.count("tap device=") == 0);

  bench.reader().place_card(visa(2));
  CHECK(bench.wait_for(kAcceptedFirstTap));
  REQUIRE(bench.stop() == 0);
  const auto journal = bench.journal();
  REQUIRE(journal.taps.size() == 1);
  CHECK(journal.last_seq == 1);
  CHECK(journal.taps.at(1).decision() == faregate::v1::DECISION_ACCEPT);
  CHECK(bench.count("gate: open") == 1);
}

TEST_CASE("a garbled frame from the reader fails that read cleanly and the card is read again") {
  Bench bench;
  // The answer to the third APDU leaves the virtual PN532 with a wrong data checksum.
  VirtualPn532* pn532 = &bench.reader();
  bench.reader().place_card(std::make_shared<HookedCard>(visa(3), 3, [pn532] {
    pn532->garble_next_responses(1);
    return std::optional<Error>();
  }));
  auto fault = bench.wait_for("reader: ");
  INFO(bench.log());
  REQUIRE(fault);
  // The broken read left nothing behind; the validator reopened the reader and read the card,
  // still in the field, once.
  CHECK(bench.wait_for(kAcceptedFirstTap));
  REQUIRE(bench.stop() == 0);
  const auto journal = bench.journal();
  REQUIRE(journal.taps.size() == 1);
  CHECK(journal.taps.at(1).decision() == faregate::v1::DECISION_ACCEPT);
  CHECK(bench.count("tap device=") == 1);
}

TEST_CASE("a reader that vanishes mid-tap is reopened when it comes back, with no half-written tap") {
  Bench bench;
  // On the third APDU the chip stops answering, and the test then pulls the reader away: the
  // validator is waiting for an answer when its serial line dies.
  std::promise<void> hung;
  auto hung_future = hung.get_future();
  VirtualPn532* pn532 = &bench.reader();
  bench.reader().place_card(std::make_shared<HookedCard>(visa(4), 3, [pn532, &hung] {
    pn532->set_unresponsive(true);
    hung.set_value();
    return std::optional<Error>();
  }));
  REQUIRE(hung_future.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  bench.reader().stop();
  auto fault = bench.wait_for("reader: ");
  INFO(bench.log());
  REQUIRE(fault);
  CHECK(fault->find("unavailable") != std::string::npos);
  CHECK(bench.count("tap device=") == 0);

  // The reader comes back under the same name with a card in the field.
  bench.start_reader();
  bench.reader().place_card(visa(5));
  CHECK(bench.wait_for("reader pn532_uart:"));
  CHECK(bench.wait_for(kAcceptedFirstTap));
  REQUIRE(bench.stop() == 0);
  const auto journal = bench.journal();
  REQUIRE(journal.taps.size() == 1);
  CHECK(journal.taps.at(1).decision() == faregate::v1::DECISION_ACCEPT);
}

TEST_CASE("a card that stops answering is denied as card_timeout and the rider is asked to tap again") {
  Bench bench;
  auto silent = std::make_shared<HookedCard>(visa(6), 3, [] {
    return std::optional<Error>(Error{ErrorCode::kTimeout, "no answer"});
  });
  bench.reader().place_card(silent);
  auto denied = bench.wait_for("tap device=" + kDevice + " seq=1 decision=deny reason=card_timeout");
  INFO(bench.log());
  REQUIRE(denied);
  CHECK(bench.count("gate: text " + std::string(tap::rider_message("card_timeout"))) == 1);
  CHECK(bench.count("gate: open") == 0);
  // The rider takes the card away and taps again; this time it answers. The validator must see
  // the field empty in between (it halted the first card and waits for its removal), as it would
  // when a real rider lifts the card: wait for two polls of the empty field.
  bench.reader().remove_card();
  const auto polls = bench.reader().chip().command_count(simulator::pn532::kInListPassiveTarget);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (bench.reader().chip().command_count(simulator::pn532::kInListPassiveTarget) < polls + 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  bench.reader().place_card(visa(7));
  CHECK(bench.wait_for("tap device=" + kDevice + " seq=2 decision=accept reason=ok"));
  REQUIRE(bench.stop() == 0);
  const auto journal = bench.journal();
  REQUIRE(journal.taps.size() == 2);
  CHECK(journal.taps.at(1).reason() == "card_timeout");
  CHECK(journal.taps.at(2).decision() == faregate::v1::DECISION_ACCEPT);
}
