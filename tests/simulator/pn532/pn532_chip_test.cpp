// The PN532 chip model, command by command, without a pty: the exact answers libnfc 1.8.0
// checks, cards entering and leaving the field, and ISO-DEP exchanges with MI chaining.
#include "simulator/pn532/pn532_chip.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <thread>

#include "tests/simulator/pn532/test_card.h"

using faregate::Bytes;
using faregate::hal::CardInfo;
using faregate::simulator::Pn532Chip;
using faregate::simulator::Pn532ChipOptions;
using faregate::simulator::Pn532Reply;
using faregate::testing::iso_dep_card_info;
using faregate::testing::long_get_data_apdu;
using faregate::testing::long_record;
using faregate::testing::select_visa_apdu;
using faregate::testing::TestCard;

namespace {

Bytes answer(Pn532Chip& chip, const Bytes& command) {
  Pn532Reply reply = chip.handle(command);
  REQUIRE(reply.kind == Pn532Reply::Kind::kResponse);
  return reply.data;
}

bool syntax_error(Pn532Chip& chip, const Bytes& command) {
  return chip.handle(command).kind == Pn532Reply::Kind::kSyntaxError;
}

Bytes with_prefix(Bytes prefix, const Bytes& rest) {
  prefix.insert(prefix.end(), rest.begin(), rest.end());
  return prefix;
}

const Bytes kListTypeA{0x4A, 0x01, 0x00};
const Bytes kFetchMore{0x40, 0x01};

}  // namespace

TEST_CASE("GetFirmwareVersion reports a PN532 v1.6 that supports type A") {
  Pn532Chip chip;
  CHECK(answer(chip, {0x02}) == Bytes{0x03, 0x32, 0x01, 0x06, 0x07});
}

TEST_CASE("Diagnose test 0 echoes the test number and data as libnfc compares them") {
  Pn532Chip chip;
  const Bytes libnfc{0x00, 0x00, 0x6C, 0x69, 0x62, 0x6E, 0x66, 0x63};
  CHECK(answer(chip, libnfc) == Bytes{0x01, 0x00, 0x6C, 0x69, 0x62, 0x6E, 0x66, 0x63});
  CHECK(syntax_error(chip, {0x00}));
  CHECK(syntax_error(chip, {0x00, 0x09}));
}

TEST_CASE("empty and unknown commands get the error frame") {
  Pn532Chip chip;
  CHECK(syntax_error(chip, {}));
  CHECK(syntax_error(chip, {0x8C}));  // TgInitAsTarget: target mode is not modelled
  CHECK(syntax_error(chip, {0x0C}));
}

TEST_CASE("the set-up commands of nfc_open are acknowledged") {
  Pn532Chip chip;
  CHECK(answer(chip, {0x14, 0x01}) == Bytes{0x15});
  CHECK(answer(chip, {0x12, 0x14}) == Bytes{0x13});
  CHECK(answer(chip, {0x32, 0x05, 0xFF, 0x01, 0x00}) == Bytes{0x33});
  CHECK(answer(chip, {0x10, 0x04}) == Bytes{0x11});
  CHECK(syntax_error(chip, {0x14}));
  CHECK(syntax_error(chip, {0x14, 0x07}));
  CHECK(syntax_error(chip, {0x12}));
  CHECK(syntax_error(chip, {0x32}));
  CHECK(syntax_error(chip, {0x32, 0x01}));
}

TEST_CASE("registers keep what was written and read back in order") {
  Pn532Chip chip;
  CHECK(answer(chip, {0x08, 0x63, 0x02, 0x80, 0x63, 0x03, 0x81, 0xFF, 0xFC, 0x12}) == Bytes{0x09});
  CHECK(answer(chip, {0x06, 0x63, 0x03, 0x63, 0x02, 0x63, 0x3D, 0xFF, 0xFC}) ==
        Bytes{0x07, 0x81, 0x80, 0x00, 0x12});
  CHECK(chip.register_value(0x6302) == 0x80);
  CHECK(chip.register_value(0x6339) == 0x00);
  CHECK(answer(chip, {0x08, 0x63, 0x02, 0x00}) == Bytes{0x09});
  CHECK(chip.register_value(0x6302) == 0x00);
  CHECK(syntax_error(chip, {0x06, 0x63}));
  CHECK(syntax_error(chip, {0x08, 0x63, 0x02}));
}

TEST_CASE("RFConfiguration item 1 switches the field") {
  Pn532Chip chip;
  CHECK_FALSE(chip.rf_field_on());
  answer(chip, {0x32, 0x01, 0x01});
  CHECK(chip.rf_field_on());
  answer(chip, {0x32, 0x01, 0x00});
  CHECK_FALSE(chip.rf_field_on());
}

TEST_CASE("InListPassiveTarget reports no card in an empty field") {
  Pn532Chip chip;
  CHECK(answer(chip, kListTypeA) == Bytes{0x4B, 0x00});
  CHECK(chip.rf_field_on());
  CHECK_FALSE(chip.target_selected());
}

TEST_CASE("InListPassiveTarget reports ATQA, SAK, UID and ATS of the card in the field") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>());
  CHECK(answer(chip, kListTypeA) == Bytes{0x4B, 0x01, 0x01, 0x03, 0x44, 0x20, 0x07,
                                          0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
                                          0x06, 0x75, 0x77, 0x81, 0x02, 0x80});
  CHECK(chip.target_selected());
}

TEST_CASE("a card without ISO 14443-4 gets no ATS") {
  Pn532Chip chip;
  chip.place_card(
      std::make_shared<TestCard>(CardInfo{Bytes{0xDE, 0xAD, 0xBE, 0xEF}, 0x0004, 0x08, {}}));
  CHECK(answer(chip, kListTypeA) ==
        Bytes{0x4B, 0x01, 0x01, 0x00, 0x04, 0x08, 0x04, 0xDE, 0xAD, 0xBE, 0xEF});
}

TEST_CASE("an ISO-DEP card without ATS still gets a TL byte, never TL 0") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>(CardInfo{Bytes{1, 2, 3, 4}, 0x0004, 0x20, {}}));
  CHECK(answer(chip, kListTypeA) ==
        Bytes{0x4B, 0x01, 0x01, 0x00, 0x04, 0x20, 0x04, 1, 2, 3, 4, 0x01});
}

TEST_CASE("without AutoRATS the chip does not fetch the ATS") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>());
  answer(chip, {0x12, 0x04});
  const Bytes reply = answer(chip, kListTypeA);
  CHECK(reply.size() == 2 + 1 + 2 + 1 + 1 + 7);
}

TEST_CASE("InListPassiveTarget with a UID selects only that card") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>());
  // 7-byte UID with the cascade tag, as libnfc sends it.
  const Bytes cascaded{0x88, 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66};
  CHECK(answer(chip, with_prefix({0x4A, 0x01, 0x00}, cascaded))[1] == 0x01);
  CHECK(answer(chip, {0x4A, 0x01, 0x00, 0x88, 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x67}) ==
        Bytes{0x4B, 0x00});

  Pn532Chip ten;
  ten.place_card(
      std::make_shared<TestCard>(CardInfo{Bytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0x0044, 0x00, {}}));
  CHECK(answer(ten, {0x4A, 0x01, 0x00, 0x88, 1, 2, 3, 0x88, 4, 5, 6, 7, 8, 9, 10})[1] == 0x01);
}

TEST_CASE("other modulations find nothing and bad polling parameters are refused") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>());
  CHECK(answer(chip, {0x4A, 0x01, 0x03, 0x00}) == Bytes{0x4B, 0x00});  // type B
  CHECK(answer(chip, {0x4A, 0x01, 0x01, 0x00, 0xFF, 0xFF, 0x00, 0x00}) == Bytes{0x4B, 0x00});
  CHECK(syntax_error(chip, {0x4A, 0x01}));
  CHECK(syntax_error(chip, {0x4A, 0x00, 0x00}));
  CHECK(syntax_error(chip, {0x4A, 0x03, 0x00}));
  CHECK(syntax_error(chip, {0x4A, 0x01, 0x05}));
}

TEST_CASE("a card with a malformed UID cannot be activated") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>(CardInfo{Bytes{1, 2, 3}, 0x0004, 0x20, {}}));
  CHECK(answer(chip, kListTypeA) == Bytes{0x4B, 0x00});
}

TEST_CASE("InDataExchange forwards the C-APDU and returns status and R-APDU") {
  Pn532Chip chip;
  auto card = std::make_shared<TestCard>();
  chip.place_card(card);
  answer(chip, kListTypeA);
  const Bytes reply = answer(chip, with_prefix({0x40, 0x01}, select_visa_apdu()));
  CHECK(reply == Bytes{0x41, 0x00, 0x6F, 0x09, 0x84, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10,
                       0x90, 0x00});
  REQUIRE(card->apdus().size() == 1);
  CHECK(card->apdus()[0] == select_visa_apdu());
  CHECK(chip.command_count(0x40) == 1);
}

TEST_CASE("InDataExchange without an activated card is not acceptable") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>());
  CHECK(answer(chip, with_prefix({0x40, 0x01}, select_visa_apdu())) == Bytes{0x41, 0x27});
  answer(chip, kListTypeA);
  CHECK(answer(chip, with_prefix({0x40, 0x02}, select_visa_apdu())) == Bytes{0x41, 0x27});
  CHECK(syntax_error(chip, {0x40}));
}

TEST_CASE("a response longer than one frame is sent in parts with MI") {
  Pn532Chip chip;  // default: 262 bytes per answer
  auto card = std::make_shared<TestCard>();
  chip.place_card(card);
  answer(chip, kListTypeA);
  // 258 bytes fit one answer.
  Bytes whole = answer(chip, with_prefix({0x40, 0x01}, long_get_data_apdu()));
  CHECK(whole[1] == 0x00);
  CHECK(Bytes(whole.begin() + 2, whole.end()) == long_record());

  Pn532Chip small(Pn532ChipOptions{{0x32, 0x01, 0x06, 0x07}, 100});
  small.place_card(card);
  answer(small, kListTypeA);
  Bytes first = answer(small, with_prefix({0x40, 0x01}, long_get_data_apdu()));
  REQUIRE(first.size() == 2 + 100);
  CHECK(first[1] == 0x40);
  Bytes second = answer(small, kFetchMore);
  REQUIRE(second.size() == 2 + 100);
  CHECK(second[1] == 0x40);
  Bytes third = answer(small, kFetchMore);
  REQUIRE(third.size() == 2 + 58);
  CHECK(third[1] == 0x00);
  Bytes joined(first.begin() + 2, first.end());
  joined.insert(joined.end(), second.begin() + 2, second.end());
  joined.insert(joined.end(), third.begin() + 2, third.end());
  CHECK(joined == long_record());
  CHECK(card->apdus().size() == 2);  // fetching the parts does not ask the card again
}

TEST_CASE("a C-APDU sent in parts with MI in the Tg byte reaches the card whole") {
  Pn532Chip chip;
  auto card = std::make_shared<TestCard>();
  chip.place_card(card);
  answer(chip, kListTypeA);
  const Bytes apdu = select_visa_apdu();
  CHECK(answer(chip, with_prefix({0x40, 0x41}, Bytes(apdu.begin(), apdu.begin() + 6))) ==
        Bytes{0x41, 0x00});
  CHECK(card->apdus().empty());
  const Bytes reply = answer(chip, with_prefix({0x40, 0x01}, Bytes(apdu.begin() + 6, apdu.end())));
  CHECK(reply[1] == 0x00);
  REQUIRE(card->apdus().size() == 1);
  CHECK(card->apdus()[0] == apdu);
}

TEST_CASE("a card removed between exchanges gives 'card disappeared', then 'not acceptable'") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>());
  answer(chip, kListTypeA);
  chip.remove_card();
  CHECK(answer(chip, with_prefix({0x40, 0x01}, select_visa_apdu())) == Bytes{0x41, 0x2B});
  CHECK_FALSE(chip.target_selected());
  CHECK(answer(chip, with_prefix({0x40, 0x01}, select_visa_apdu())) == Bytes{0x41, 0x27});
}

TEST_CASE("a card removed while it works on a command gives 'card disappeared'") {
  Pn532Chip chip;
  auto card = std::make_shared<TestCard>();
  chip.place_card(card);
  answer(chip, kListTypeA);
  card->on_next_apdu([&chip] { chip.remove_card(); });
  CHECK(answer(chip, with_prefix({0x40, 0x01}, select_visa_apdu())) == Bytes{0x41, 0x2B});
  CHECK_FALSE(chip.has_card());
}

TEST_CASE("a card that says it left is taken out of the field") {
  Pn532Chip chip;
  auto card = std::make_shared<TestCard>();
  chip.place_card(card);
  answer(chip, kListTypeA);
  card->set_leaves(true);
  CHECK(answer(chip, with_prefix({0x40, 0x01}, select_visa_apdu())) == Bytes{0x41, 0x2B});
  CHECK_FALSE(chip.has_card());
  CHECK(answer(chip, kListTypeA) == Bytes{0x4B, 0x00});
}

TEST_CASE("a silent card gives the timeout status and stays activated") {
  Pn532Chip chip;
  auto card = std::make_shared<TestCard>();
  chip.place_card(card);
  answer(chip, kListTypeA);
  card->set_silent(true);
  CHECK(answer(chip, with_prefix({0x40, 0x01}, select_visa_apdu())) == Bytes{0x41, 0x01});
  card->set_silent(false);
  CHECK(answer(chip, with_prefix({0x40, 0x01}, select_visa_apdu()))[1] == 0x00);
}

TEST_CASE("a deselected card is halted: polling does not find it until it is placed again") {
  Pn532Chip chip;
  auto card = std::make_shared<TestCard>();
  chip.place_card(card);
  answer(chip, kListTypeA);
  CHECK(answer(chip, {0x44, 0x00}) == Bytes{0x45, 0x00});
  CHECK(card->deselects() == 1);
  CHECK_FALSE(chip.target_selected());
  CHECK(answer(chip, kListTypeA) == Bytes{0x4B, 0x00});
  chip.remove_card();
  chip.place_card(card);
  CHECK(answer(chip, kListTypeA)[1] == 0x01);
}

TEST_CASE("switching the field off and on wakes a halted card") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>());
  answer(chip, kListTypeA);
  answer(chip, {0x44, 0x01});
  CHECK(answer(chip, kListTypeA) == Bytes{0x4B, 0x00});
  answer(chip, {0x32, 0x01, 0x00});
  answer(chip, {0x32, 0x01, 0x01});
  CHECK(answer(chip, kListTypeA)[1] == 0x01);
}

TEST_CASE("InSelect activates a deselected card again") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>());
  CHECK(answer(chip, {0x54, 0x01}) == Bytes{0x55, 0x27});
  answer(chip, kListTypeA);
  answer(chip, {0x44, 0x01});
  CHECK(answer(chip, with_prefix({0x40, 0x01}, select_visa_apdu())) == Bytes{0x41, 0x27});
  CHECK(answer(chip, {0x54, 0x01}) == Bytes{0x55, 0x00});
  CHECK(answer(chip, with_prefix({0x40, 0x01}, select_visa_apdu()))[1] == 0x00);
}

TEST_CASE("InRelease and PowerDown answer with a status byte and end the activation") {
  Pn532Chip chip;
  auto card = std::make_shared<TestCard>();
  chip.place_card(card);
  answer(chip, kListTypeA);
  CHECK(answer(chip, {0x52, 0x00}) == Bytes{0x53, 0x00});
  CHECK_FALSE(chip.target_selected());
  CHECK(card->deselects() == 1);
  answer(chip, {0x32, 0x01, 0x00});
  answer(chip, kListTypeA);
  CHECK(answer(chip, {0x16, 0xF0}) == Bytes{0x17, 0x00});
  CHECK_FALSE(chip.rf_field_on());
  CHECK_FALSE(chip.target_selected());
  CHECK(syntax_error(chip, {0x16}));
}

TEST_CASE("deselecting a card that already left reports the timeout status") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>());
  answer(chip, kListTypeA);
  chip.remove_card();
  CHECK(answer(chip, {0x44, 0x00}) == Bytes{0x45, 0x01});
  CHECK(answer(chip, {0x44, 0x00}) == Bytes{0x45, 0x00});  // nothing left to deselect
}

TEST_CASE("libnfc's presence check (a raw R(NAK)) is answered while the card is there") {
  Pn532Chip chip;
  auto card = std::make_shared<TestCard>();
  chip.place_card(card);
  answer(chip, kListTypeA);
  // Just activated: the card's block number is 1, so R(NAK) with block 0 gets R(ACK) 1.
  CHECK(answer(chip, {0x42, 0xB2}) == Bytes{0x43, 0x00, 0xA3});
  // After one exchange the numbers match and the card sends its last I-block again.
  answer(chip, with_prefix({0x40, 0x01}, Bytes{0x00, 0xB0, 0x00, 0x00, 0x00}));
  CHECK(answer(chip, {0x42, 0xB2}) == Bytes{0x43, 0x00, 0x02, 0x6D, 0x00});
  chip.remove_card();
  CHECK(answer(chip, {0x42, 0xB2}) == Bytes{0x43, 0x01});
}

TEST_CASE("raw I-blocks and S(DESELECT) through InCommunicateThru") {
  Pn532Chip chip;
  auto card = std::make_shared<TestCard>();
  chip.place_card(card);
  CHECK(answer(chip, {0x42, 0x02, 0x00, 0xB0, 0x00, 0x00, 0x00}) == Bytes{0x43, 0x01});  // no card
  answer(chip, kListTypeA);
  CHECK(answer(chip, {0x42, 0x02, 0x00, 0xB0, 0x00, 0x00, 0x00}) ==
        Bytes{0x43, 0x00, 0x02, 0x6D, 0x00});
  CHECK(answer(chip, {0x42, 0xC2}) == Bytes{0x43, 0x00, 0xC2});
  CHECK(card->deselects() == 1);
  CHECK_FALSE(chip.target_selected());
  CHECK(answer(chip, {0x42}) == Bytes{0x43, 0x01});
}

TEST_CASE("Diagnose card presence follows the activated card") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>());
  CHECK(answer(chip, {0x00, 0x06}) == Bytes{0x01, 0x01});
  answer(chip, kListTypeA);
  CHECK(answer(chip, {0x00, 0x06}) == Bytes{0x01, 0x00});
  chip.remove_card();
  CHECK(answer(chip, {0x00, 0x06}) == Bytes{0x01, 0x01});
}

TEST_CASE("InAutoPoll reports an ISO-DEP card as ISO 14443-4A with its ATS") {
  Pn532Chip chip;
  CHECK(answer(chip, {0x60, 0xFF, 0x01, 0x20, 0x10}) == Bytes{0x61, 0x00});
  chip.place_card(std::make_shared<TestCard>());
  CHECK(answer(chip, {0x60, 0xFF, 0x01, 0x20, 0x10}) ==
        Bytes{0x61, 0x01, 0x20, 18,   0x01, 0x03, 0x44, 0x20, 0x07, 0x04, 0x11,
              0x22, 0x33, 0x44, 0x55, 0x66, 0x06, 0x75, 0x77, 0x81, 0x02, 0x80});
  CHECK(answer(chip, {0x60, 0xFF, 0x01, 0x11}) == Bytes{0x61, 0x00});  // FeliCa only
  CHECK(syntax_error(chip, {0x60, 0xFF, 0x01}));
}

TEST_CASE("InAutoPoll reports a card without ISO-DEP only to a plain type A poll") {
  Pn532Chip chip;
  chip.place_card(std::make_shared<TestCard>(CardInfo{Bytes{1, 2, 3, 4}, 0x0004, 0x08, {}}));
  CHECK(answer(chip, {0x60, 0x01, 0x01, 0x20}) == Bytes{0x61, 0x00});
  CHECK(answer(chip, {0x60, 0x01, 0x01, 0x20, 0x10}) ==
        Bytes{0x61, 0x01, 0x10, 9, 0x01, 0x00, 0x04, 0x08, 0x04, 1, 2, 3, 4});
}

TEST_CASE("GetGeneralStatus shows the field and the activated target") {
  Pn532Chip chip;
  CHECK(answer(chip, {0x04}) == Bytes{0x05, 0x00, 0x00, 0x00, 0x00});
  chip.place_card(std::make_shared<TestCard>());
  answer(chip, kListTypeA);
  CHECK(answer(chip, {0x04}) == Bytes{0x05, 0x00, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00});
}

TEST_CASE("cards placed and removed from another thread never break an exchange") {
  Pn532Chip chip;
  auto card = std::make_shared<TestCard>();
  std::atomic<bool> done{false};
  std::thread mover([&] {
    for (int i = 0; i < 2000 && !done; ++i) {
      if (i % 2 == 0) {
        chip.place_card(card);
      } else {
        chip.remove_card();
      }
    }
  });
  for (int i = 0; i < 2000; ++i) {
    const Bytes listed = answer(chip, kListTypeA);
    REQUIRE((listed == Bytes{0x4B, 0x00} || listed.size() == 20));
    const Bytes reply = answer(chip, with_prefix({0x40, 0x01}, select_visa_apdu()));
    REQUIRE(reply.size() >= 2);
    const std::uint8_t status = reply[1];
    REQUIRE((status == 0x00 || status == 0x27 || status == 0x2B));
    if (status == 0x00) REQUIRE(reply.size() == 15);
  }
  done = true;
  mover.join();
}
