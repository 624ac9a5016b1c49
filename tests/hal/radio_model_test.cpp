// The radio timing model against values worked out by hand from ISO/IEC 14443's numbers.
#include <catch2/catch.hpp>

#include "hal/sim/radio_model.h"
#include "hal/sim/sim_nfc_reader.h"

using namespace faregate;
using hal::sim::BitRate;
using hal::sim::exchange_air_time;

TEST_CASE("an exchange at 106 kbit/s costs its frames' etus plus two frame delays") {
  // Command 10 bytes -> I-block 13 bytes -> 13*9+2 = 119 etu; response 2 bytes (SW only) ->
  // 5 bytes -> 47 etu. 166 etu * 128/13.56 MHz = 1566.96 us, plus 2 * 1172/13.56 MHz = 172.86 us.
  CHECK(exchange_air_time(10, 2, BitRate::k106).count() == 1740);
}

TEST_CASE("higher bit rates shorten the frames but not the frame delays") {
  const auto t106 = exchange_air_time(20, 60, BitRate::k106).count();
  const auto t848 = exchange_air_time(20, 60, BitRate::k848).count();
  // Frames: (23+63)*9+4 = 778 etu. At 106: 7344 us + 173 us; at 848: 918 us + 173 us.
  CHECK(t106 == 7517);
  CHECK(t848 == 1091);
  CHECK(exchange_air_time(20, 60, BitRate::k212).count() < t106);
  CHECK(exchange_air_time(20, 60, BitRate::k424).count() > t848);
}

TEST_CASE("only the four ISO 14443 bit rates are accepted") {
  BitRate r{};
  CHECK(hal::sim::parse_bit_rate(424, r));
  CHECK(r == BitRate::k424);
  CHECK_FALSE(hal::sim::parse_bit_rate(100, r));
  CHECK_FALSE(hal::sim::parse_bit_rate(0, r));
}

namespace {
class TwoByteCard final : public hal::sim::ContactlessCard {
 public:
  hal::CardInfo info() const override { return {Bytes{1, 2, 3, 4}, 0x0004, 0x20, {0x01}}; }
  Result<Bytes> respond(ByteView) override { return Bytes{0x90, 0x00}; }
};
}  // namespace

TEST_CASE("the in-process reader charges each exchange to the tap and restarts at the next card") {
  hal::sim::SimNfcReader reader;
  reader.place(std::make_shared<TwoByteCard>());
  REQUIRE(reader.wait_for_card(std::chrono::milliseconds(0)));
  const Bytes apdu(10, 0x00);
  REQUIRE(reader.transceive(apdu, std::chrono::milliseconds(100)));
  REQUIRE(reader.transceive(apdu, std::chrono::milliseconds(100)));
  CHECK(reader.air_time_this_tap().count() == 2 * 1740);
  REQUIRE(reader.wait_for_card(std::chrono::milliseconds(0)));
  CHECK(reader.air_time_this_tap().count() == 0);
  reader.set_bit_rate(BitRate::k848);
  REQUIRE(reader.transceive(apdu, std::chrono::milliseconds(100)));
  CHECK(reader.air_time_this_tap() < exchange_air_time(10, 2, BitRate::k106));
}
