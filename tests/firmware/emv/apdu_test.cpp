// Command encoding, response parsing, and the APDU channel's own handling of 61xx and 6Cxx.
#include <catch2/catch.hpp>

#include <deque>

#include "firmware/emv/apdu.h"
#include "hal/sim/sim_nfc_reader.h"
#include "tests/firmware/emv/scripted_card.h"

using namespace faregate;
using namespace std::chrono_literals;
using faregate::emv::test::hex;
using faregate::emv::test::ScriptedCard;

namespace {

struct Bench {
  std::shared_ptr<ScriptedCard> card = std::make_shared<ScriptedCard>();
  hal::sim::SimNfcReader reader;
  Bench() {
    reader.place(card);
    REQUIRE(reader.wait_for_card(0ms).value().has_value());
  }
};

}  // namespace

TEST_CASE("commands are encoded as ISO 7816-4 short APDUs") {
  CHECK(to_hex(emv::select_by_name(as_bytes("2PAY.SYS.DDF01")).value()) ==
        "00a404000e325041592e5359532e444446303100");
  CHECK(to_hex(emv::select_by_name(hex("A0000000031010")).value()) == "00a4040007a000000003101000");
  CHECK(to_hex(emv::read_record(1, 2).value()) == "00b2020c00");
  CHECK(to_hex(emv::read_record(3, 1).value()) == "00b2011c00");
  CHECK(to_hex(emv::get_processing_options(hex("1122")).value()) == "80a80000048302112200");
  CHECK(to_hex(emv::get_processing_options({}).value()) == "80a800000283" "0000");
  CHECK(to_hex(emv::get_response(0x1A)) == "00c000001a");
}

TEST_CASE("commands that cannot be encoded are refused rather than truncated") {
  CHECK_FALSE(emv::select_by_name({}));
  CHECK_FALSE(emv::select_by_name(Bytes(17, 0xA0)));
  CHECK(emv::select_by_name(Bytes(16, 0xA0)));
  CHECK_FALSE(emv::read_record(0, 1));
  CHECK_FALSE(emv::read_record(31, 1));
  CHECK_FALSE(emv::read_record(1, 0));
  CHECK_FALSE(emv::read_record(1, 255));
  CHECK_FALSE(emv::get_processing_options(Bytes(253, 0)));
  CHECK(emv::get_processing_options(Bytes(252, 0)));
}

TEST_CASE("a response is split into data and status word") {
  auto r = emv::parse_response(hex("01029000"));
  REQUIRE(r);
  CHECK(r->ok());
  CHECK(to_hex(r->data) == "0102");
  CHECK(r->sw1() == 0x90);
  CHECK(r->sw2() == 0x00);
  auto sw_only = emv::parse_response(hex("6A82"));
  REQUIRE(sw_only);
  CHECK(sw_only->sw == emv::kSwFileNotFound);
  CHECK(sw_only->data.empty());
  CHECK_FALSE(sw_only->ok());
  CHECK(emv::sw_hex(sw_only->sw) == "6a82");
  auto short_one = emv::parse_response(hex("90"));
  REQUIRE_FALSE(short_one);
  CHECK(short_one.error().code == ErrorCode::kProtocol);
  CHECK_FALSE(emv::parse_response({}));
}

TEST_CASE("Le is set or added for each ISO 7816-4 case, and a malformed command is refused") {
  CHECK(to_hex(emv::with_le(hex("00B2010C"), 0x1D).value()) == "00b2010c1d");          // case 1
  CHECK(to_hex(emv::with_le(hex("00B2010C00"), 0x1D).value()) == "00b2010c1d");        // case 2
  CHECK(to_hex(emv::with_le(hex("00A4040002AABB"), 0x10).value()) == "00a4040002aabb10");  // 3
  CHECK(to_hex(emv::with_le(hex("00A4040002AABB00"), 0x10).value()) == "00a4040002aabb10");  // 4
  CHECK_FALSE(emv::with_le(hex("00A4040005AABB"), 0x10));  // Lc says 5, 2 follow
  CHECK_FALSE(emv::with_le(hex("00A4"), 0x10));
}

TEST_CASE("61xx answers are followed by GET RESPONSE and the data concatenated") {
  Bench b;
  b.card->script = {{hex("00b2010c00"), hex("AABB6103")},
                    {hex("00c0000003"), hex("CCDDEE6102")},
                    {hex("00c0000002"), hex("FF009000")}};
  emv::ApduChannel channel(b.reader, 100ms);
  auto r = channel.exchange(emv::read_record(1, 1).value());
  REQUIRE(r);
  CHECK(r->ok());
  CHECK(to_hex(r->data) == "aabbccddeeff00");
  CHECK(channel.count() == 3);
  CHECK(b.card->script.empty());
}

TEST_CASE("6Cxx answers are resent once with the Le the card asked for") {
  Bench b;
  b.card->script = {{hex("00b2010c00"), hex("6C05")}, {hex("00b2010c05"), hex("01020304059000")}};
  emv::ApduChannel channel(b.reader, 100ms);
  auto r = channel.exchange(emv::read_record(1, 1).value());
  REQUIRE(r);
  CHECK(r->ok());
  CHECK(to_hex(r->data) == "0102030405");
  CHECK(channel.count() == 2);
  CHECK(b.card->script.empty());
}

TEST_CASE("a 6Cxx on a case 4 SELECT replaces its Le, and 61xx after the resend is followed") {
  Bench b;
  b.card->script = {{hex("00a4040002aabb00"), hex("6C04")},
                    {hex("00a4040002aabb04"), hex("01026102")},
                    {hex("00c0000002"), hex("03049000")}};
  emv::ApduChannel channel(b.reader, 100ms);
  auto r = channel.exchange(emv::select_by_name(hex("AABB")).value());
  REQUIRE(r);
  CHECK(to_hex(r->data) == "01020304");
  CHECK(channel.count() == 3);
  CHECK(b.card->script.empty());
}

TEST_CASE("a second 6Cxx is handed back as a status word, not resent forever") {
  Bench b;
  b.card->script = {{hex("00b2010c00"), hex("6C05")}, {hex("00b2010c05"), hex("6C07")}};
  emv::ApduChannel channel(b.reader, 100ms);
  auto r = channel.exchange(emv::read_record(1, 1).value());
  REQUIRE(r);
  CHECK(r->sw == 0x6C07);
  CHECK(channel.count() == 2);
  CHECK(b.card->script.empty());
}

TEST_CASE("a card that answers 61xx forever is cut off after the round limit") {
  Bench b;
  b.card->script.push_back({hex("00b2010c00"), hex("6101")});
  for (int i = 0; i < emv::ApduChannel::kMaxGetResponseRounds; ++i) {
    b.card->script.push_back({hex("00c0000001"), hex("006101")});
  }
  emv::ApduChannel channel(b.reader, 100ms);
  auto r = channel.exchange(emv::read_record(1, 1).value());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kProtocol);
  CHECK(channel.count() == 1 + emv::ApduChannel::kMaxGetResponseRounds);
  CHECK(b.card->script.empty());
}

TEST_CASE("the longest allowed chain is accepted whole") {
  Bench b;
  const Bytes part(254, 0x11);
  auto with = [](Bytes data, const char* sw) {
    const Bytes s = hex(sw);
    data.insert(data.end(), s.begin(), s.end());
    return data;
  };
  b.card->script.push_back({hex("00b2010c00"), with(part, "6100")});
  for (int i = 1; i < emv::ApduChannel::kMaxGetResponseRounds; ++i) {
    b.card->script.push_back({hex("00c0000000"), with(part, "6100")});
  }
  b.card->script.push_back({hex("00c0000000"), with(part, "9000")});
  emv::ApduChannel channel(b.reader, 100ms);
  auto r = channel.exchange(emv::read_record(1, 1).value());
  REQUIRE(r);
  CHECK(r->ok());
  CHECK(r->data.size() == part.size() * (1 + emv::ApduChannel::kMaxGetResponseRounds));
  CHECK(b.card->script.empty());
}

TEST_CASE("transport errors reach the caller with their code, and every APDU is counted") {
  Bench b;
  b.card->script = {{hex("00b2010c00"), hex("9000")}};
  b.reader.remove_card_after_apdus(1);
  emv::ApduChannel channel(b.reader, 100ms);
  REQUIRE(channel.exchange(emv::read_record(1, 1).value()));
  auto gone = channel.exchange(emv::read_record(1, 2).value());
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == ErrorCode::kCardRemoved);
  CHECK(channel.count() == 2);
}
