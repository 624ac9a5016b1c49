// The in-process reader must behave like a real one where the pipeline can tell: no APDU without
// a card, checked APDU sizes, a card leaving mid-exchange, a reader that disappears.
#include <catch2/catch.hpp>

#include "hal/sim/sim_nfc_reader.h"

using namespace std::chrono_literals;
using faregate::Bytes;
using faregate::ErrorCode;
using faregate::Result;

namespace {

// A card that answers every APDU with its own length and 90 00, counting what it saw.
class EchoCard final : public faregate::hal::sim::ContactlessCard {
 public:
  faregate::hal::CardInfo info() const override {
    return {Bytes{1, 2, 3, 4, 5, 6, 7}, 0x0044, 0x20, Bytes{0x05, 0x78, 0x80, 0x70, 0x02}};
  }
  Result<Bytes> respond(faregate::ByteView apdu) override {
    ++seen;
    return Bytes{static_cast<std::uint8_t>(apdu.size()), 0x90, 0x00};
  }
  void on_deselect() override { ++deselected; }
  int seen = 0;
  int deselected = 0;
};

const Bytes kSelect{0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00, 0x00};

}  // namespace

TEST_CASE("an empty field reports no card") {
  faregate::hal::sim::SimNfcReader reader;
  auto card = reader.wait_for_card(10ms);
  REQUIRE(card);
  CHECK_FALSE(card->has_value());
}

TEST_CASE("transceive without an active card is refused") {
  faregate::hal::sim::SimNfcReader reader;
  auto r = reader.transceive(kSelect, 10ms);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("a placed card is activated and answers APDUs") {
  faregate::hal::sim::SimNfcReader reader;
  auto echo = std::make_shared<EchoCard>();
  reader.place(echo);
  auto card = reader.wait_for_card(10ms);
  REQUIRE(card);
  REQUIRE(card->has_value());
  CHECK((*card)->supports_iso_dep());
  auto r = reader.transceive(kSelect, 10ms);
  REQUIRE(r);
  CHECK(*r == Bytes{8, 0x90, 0x00});
  CHECK(reader.apdus_this_tap() == 1);
  REQUIRE(reader.release());
  CHECK(echo->deselected == 1);
}

TEST_CASE("APDUs shorter than a header or longer than a short APDU are refused") {
  faregate::hal::sim::SimNfcReader reader;
  auto echo = std::make_shared<EchoCard>();
  reader.place(echo);
  REQUIRE(reader.wait_for_card(10ms));
  CHECK(reader.transceive(Bytes{0x00, 0xA4, 0x04}, 10ms).error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(reader.transceive(Bytes(262, 0x00), 10ms).error().code == ErrorCode::kInvalidArgument);
  CHECK(echo->seen == 0);
}

TEST_CASE("a card leaving mid-exchange fails the next APDU with card_removed") {
  faregate::hal::sim::SimNfcReader reader;
  reader.place(std::make_shared<EchoCard>());
  reader.remove_card_after_apdus(2);
  REQUIRE(reader.wait_for_card(10ms));
  CHECK(reader.transceive(kSelect, 10ms));
  CHECK(reader.transceive(kSelect, 10ms));
  auto third = reader.transceive(kSelect, 10ms);
  REQUIRE_FALSE(third);
  CHECK(third.error().code == ErrorCode::kCardRemoved);
  auto removed = reader.wait_for_removal(10ms);
  REQUIRE(removed);
  CHECK(*removed);
}

TEST_CASE("a disconnected reader fails with unavailable until it comes back") {
  faregate::hal::sim::SimNfcReader reader;
  reader.place(std::make_shared<EchoCard>());
  reader.disconnect();
  auto gone = reader.wait_for_card(10ms);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == ErrorCode::kUnavailable);
  reader.reconnect();
  auto back = reader.wait_for_card(10ms);
  REQUIRE(back);
  CHECK(back->has_value());
}

TEST_CASE("a card left on the reader is not reported as removed") {
  faregate::hal::sim::SimNfcReader reader;
  reader.place(std::make_shared<EchoCard>());
  REQUIRE(reader.wait_for_card(10ms));
  auto removed = reader.wait_for_removal(10ms);
  REQUIRE(removed);
  CHECK_FALSE(*removed);
}
