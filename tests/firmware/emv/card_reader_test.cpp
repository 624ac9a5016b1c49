// The simple card read against every virtual card kind and against hostile card answers: good
// cards give their data, each fault its own reason, and nothing a card sends crashes the reader.
#include <catch2/catch.hpp>

#include "common/crypto.h"
#include "firmware/emv/card_reader.h"
#include "firmware/emv/tlv.h"
#include "hal/sim/sim_nfc_reader.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/cards/emv_card.h"
#include "tests/firmware/emv/scripted_card.h"

using namespace faregate;
using namespace std::chrono_literals;
using emv::test::hex;
using emv::test::PatchedCard;

namespace {

constexpr const char* kSelectPpse = "00a404000e325041592e5359532e444446303100";
constexpr const char* kSelectVisa = "00a4040007a000000003101000";
constexpr const char* kReadRecord1 = "00b2010c00";
constexpr const char* kReadRecord2 = "00b2020c00";

using ReadResult = std::expected<emv::CardData, emv::CardReadError>;

ReadResult read_card(std::shared_ptr<hal::sim::ContactlessCard> card,
                     const emv::CardReader& reader_logic = emv::CardReader()) {
  hal::sim::SimNfcReader reader;
  reader.place(std::move(card));
  REQUIRE(reader.wait_for_card(0ms).value().has_value());
  return reader_logic.read(reader);
}

ReadResult read_kind(std::string_view kind, std::uint64_t seed = 1) {
  return read_card(simulator::make_card(kind, seed).value());
}

std::string pan_of(std::string_view kind, std::uint64_t seed = 1) {
  return simulator::card_profile(kind, seed).value().pan;
}

Bytes bcd(const std::string& digits) {
  return from_hex(digits.size() % 2 ? digits + "F" : digits).value();
}

Bytes ok(Bytes data) {
  data.push_back(0x90);
  data.push_back(0x00);
  return data;
}

}  // namespace

TEST_CASE("a Visa card is read with three APDUs, and no PSN on the card reads as 0") {
  auto card = read_kind("visa");
  REQUIRE(card);
  CHECK(card->scheme == faregate::v1::CARD_SCHEME_VISA);
  CHECK(card->pan.digits() == pan_of("visa"));
  CHECK(card->pan.digits().size() == 16);
  CHECK(card->pan.digits().starts_with("4"));
  CHECK(card->pan.luhn_valid());
  CHECK(card->psn == 0);
  CHECK(card->expiry == std::chrono::year_month_day{std::chrono::year(2030), std::chrono::December,
                                                    std::chrono::day(31)});
  CHECK(card->atc.has_value());
  CHECK(to_hex(card->aid) == "a0000000031010");
  CHECK(card->apdu_count == 3);  // SELECT PPSE, SELECT AID, READ RECORD 1
}

TEST_CASE("Mastercard and Maestro are told apart by their AID, and F padding is stripped") {
  auto mc = read_kind("mastercard");
  REQUIRE(mc);
  CHECK(mc->scheme == faregate::v1::CARD_SCHEME_MASTERCARD);
  CHECK(mc->psn == 1);
  CHECK(mc->pan.digits().starts_with("5"));
  auto maestro = read_kind("maestro");
  REQUIRE(maestro);
  CHECK(maestro->scheme == faregate::v1::CARD_SCHEME_MAESTRO);
  CHECK(maestro->pan.digits().size() == 19);  // 10 BCD bytes, the last nibble F
  CHECK(maestro->pan.digits() == pan_of("maestro"));
  CHECK(maestro->pan.last4() == pan_of("maestro").substr(15));
}

TEST_CASE("the supported application with the best priority is chosen") {
  SECTION("a co-badged card gets Maestro although its domestic scheme ranks first") {
    auto card = read_kind("co_badged");
    REQUIRE(card);
    CHECK(card->scheme == faregate::v1::CARD_SCHEME_MAESTRO);
  }
  SECTION("between two supported applications, priority 1 beats priority 2 whatever the order") {
    auto profile = simulator::card_profile("visa", 3).value();
    profile.applications = {{hex("A0000000031010"), "VISA", 2},
                            {hex("A0000000041010"), "MASTERCARD", 1}};
    auto card = read_card(std::make_shared<simulator::EmvCard>(profile));
    REQUIRE(card);
    CHECK(card->scheme == faregate::v1::CARD_SCHEME_MASTERCARD);
  }
  SECTION("an application without priority ranks after one with a priority") {
    auto profile = simulator::card_profile("visa", 3).value();
    profile.applications = {{hex("A0000000031010"), "VISA", 0},
                            {hex("A0000000043060"), "MAESTRO", 15}};
    auto card = read_card(std::make_shared<simulator::EmvCard>(profile));
    REQUIRE(card);
    CHECK(card->scheme == faregate::v1::CARD_SCHEME_MAESTRO);
  }
}

TEST_CASE("the list of supported applications is injectable") {
  const emv::CardReader visa_only({{hex("A0000000031010"), faregate::v1::CARD_SCHEME_VISA}});
  auto refused = read_card(simulator::make_card("mastercard", 1).value(), visa_only);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().reason == "no_supported_application");
  CHECK(read_card(simulator::make_card("visa", 1).value(), visa_only));
}

TEST_CASE("each faulty card kind fails with a reason of its own") {
  struct Case {
    const char* kind;
    const char* reason;
    std::uint32_t apdus;
  };
  for (const Case& c : {Case{"no_ppse", "ppse_not_found", 1},
                        Case{"unsupported_aid", "no_supported_application", 1},
                        Case{"truncated_tlv", "malformed_tlv", 3},
                        Case{"missing_pan", "pan_missing", 4}}) {
    INFO(c.kind);
    auto card = read_kind(c.kind);
    REQUIRE_FALSE(card);
    CHECK(card.error().kind == emv::ReadFailure::kCard);
    CHECK(card.error().reason == c.reason);
    CHECK(card.error().apdu_count == c.apdus);
    CHECK_FALSE(card.error().detail.empty());
  }
}

TEST_CASE("a card that answers in 61xx parts is read through GET RESPONSE") {
  auto card = read_kind("chained", 4);
  REQUIRE(card);
  CHECK(card->pan.digits() == pan_of("chained", 4));
  CHECK(card->apdu_count > 3);
}

TEST_CASE("a card pulled away during the read is reported as gone, not as a bad card") {
  for (std::size_t after : {0u, 1u, 2u}) {
    INFO("removed after " << after << " APDUs");
    hal::sim::SimNfcReader reader;
    reader.place(simulator::make_card("visa", 1).value());
    reader.remove_card_after_apdus(after);
    REQUIRE(reader.wait_for_card(0ms).value().has_value());
    auto card = emv::CardReader().read(reader);
    REQUIRE_FALSE(card);
    CHECK(card.error().kind == emv::ReadFailure::kCardLeft);
    CHECK(card.error().reason == "card_removed");
    CHECK(card.error().cause == ErrorCode::kCardRemoved);
    CHECK(card.error().apdu_count == after + 1);
  }
}

TEST_CASE("a silent card is a card_timeout, a failing reader a reader_error") {
  auto silent = std::make_shared<PatchedCard>(simulator::make_card("visa", 1).value());
  silent->fail(kReadRecord1, ErrorCode::kTimeout);
  auto timeout = read_card(silent);
  REQUIRE_FALSE(timeout);
  CHECK(timeout.error().kind == emv::ReadFailure::kCard);
  CHECK(timeout.error().reason == "card_timeout");

  auto broken = std::make_shared<PatchedCard>(simulator::make_card("visa", 1).value());
  broken->fail(kSelectVisa, ErrorCode::kUnavailable);
  auto reader_error = read_card(broken);
  REQUIRE_FALSE(reader_error);
  CHECK(reader_error.error().kind == emv::ReadFailure::kReader);
  CHECK(reader_error.error().reason == "reader_error");
  CHECK(reader_error.error().cause == ErrorCode::kUnavailable);

  // A response longer than ISO 7816-4 allows is refused by the reader interface itself.
  auto oversized = std::make_shared<PatchedCard>(simulator::make_card("visa", 1).value());
  oversized->patch(kReadRecord1, ok(Bytes(300, 0x70)));
  auto protocol = read_card(oversized);
  REQUIRE_FALSE(protocol);
  CHECK(protocol.error().reason == "card_protocol_error");
}

TEST_CASE("hostile card answers are refused with their own reason and no PAN in the detail") {
  using emv::encode_tlv;
  const std::string pan = pan_of("visa");
  const Bytes pan_tlv = encode_tlv(0x5A, bcd(pan));
  const Bytes expiry_tlv = encode_tlv(0x5F24, hex("301231"));
  auto record = [](std::initializer_list<Bytes> objects) {
    return ok(emv::encode_constructed(0x70, objects));
  };
  std::string bad_luhn = pan;
  bad_luhn.back() = static_cast<char>('0' + (bad_luhn.back() - '0' + 1) % 10);
  const std::string other_pan = pan_of("visa", 2);

  struct Case {
    std::string what;
    const char* command;
    Bytes answer;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"PAN failing the Luhn check", kReadRecord1,
       record({encode_tlv(0x5A, bcd(bad_luhn)), expiry_tlv}), "pan_invalid"},
      {"PAN of 11 digits", kReadRecord1, record({encode_tlv(0x5A, bcd("47617390010")), expiry_tlv}),
       "pan_invalid"},
      {"PAN with a digit after the F padding", kReadRecord1,
       record({encode_tlv(0x5A, hex("4761739001F10010")), expiry_tlv}), "pan_invalid"},
      {"PAN with a non-digit nibble", kReadRecord1,
       record({encode_tlv(0x5A, hex("47617390010A0010")), expiry_tlv}), "pan_invalid"},
      {"PAN of 11 bytes", kReadRecord1, record({encode_tlv(0x5A, Bytes(11, 0x11)), expiry_tlv}),
       "pan_invalid"},
      {"empty PAN", kReadRecord1, record({encode_tlv(0x5A, {}), expiry_tlv}), "pan_invalid"},
      {"track 2 with another PAN", kReadRecord1,
       record({encode_tlv(0x57, bcd(other_pan + "D301220100000")), pan_tlv, expiry_tlv}),
       "pan_mismatch"},
      {"track 2 without separator", kReadRecord1,
       record({encode_tlv(0x57, bcd(pan + "301220100000")), pan_tlv, expiry_tlv}),
       "track2_invalid"},
      {"track 2 of 48 bytes", kReadRecord1,
       record({encode_tlv(0x57, Bytes(48, 0x11)), pan_tlv, expiry_tlv}), "track2_invalid"},
      {"month 13", kReadRecord1, record({pan_tlv, encode_tlv(0x5F24, hex("301331"))}),
       "expiry_invalid"},
      {"30 February", kReadRecord1, record({pan_tlv, encode_tlv(0x5F24, hex("300230"))}),
       "expiry_invalid"},
      {"two-byte expiry", kReadRecord1, record({pan_tlv, encode_tlv(0x5F24, hex("3012"))}),
       "expiry_invalid"},
      {"no expiry", kReadRecord1, record({pan_tlv}), "expiry_missing"},
      {"PSN not BCD", kReadRecord1,
       record({pan_tlv, expiry_tlv, encode_tlv(0x5F34, hex("1A"))}), "psn_invalid"},
      {"PSN of two bytes", kReadRecord1,
       record({pan_tlv, expiry_tlv, encode_tlv(0x5F34, hex("0101"))}), "psn_invalid"},
      {"record outside template 70", kReadRecord1,
       ok(emv::encode_constructed(0x77, {pan_tlv, expiry_tlv})), "malformed_tlv"},
      {"record refused", kReadRecord1, hex("6985"), "record_not_readable"},
      {"no record 1", kReadRecord1, hex("6A83"), "pan_missing"},
      {"PPSE answer that is not TLV", kSelectPpse, ok(hex("5A05")), "malformed_tlv"},
      {"PPSE answer without FCI template", kSelectPpse,
       ok(encode_tlv(0xA5, encode_tlv(0x50, as_bytes("X")))), "malformed_tlv"},
      {"PPSE FCI without directory", kSelectPpse,
       ok(encode_tlv(0x6F, encode_tlv(0x84, as_bytes("2PAY.SYS.DDF01")))),
       "no_supported_application"},
      {"application refused", kSelectVisa, hex("6A81"), "application_not_selected"},
      {"application answer without FCI", kSelectVisa, ok(encode_tlv(0x84, hex("A0000000031010"))),
       "application_not_selected"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    auto card = std::make_shared<PatchedCard>(simulator::make_card("visa", 1).value());
    card->patch(c.command, c.answer);
    auto result = read_card(card);
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == emv::ReadFailure::kCard);
    CHECK(result.error().reason == c.reason);
    CHECK(result.error().detail.find(pan) == std::string::npos);
  }
}

TEST_CASE("a PAN only in record 2 is found with a second READ RECORD") {
  const std::string pan = pan_of("visa");
  auto card = std::make_shared<PatchedCard>(simulator::make_card("visa", 1).value());
  card->patch(kReadRecord1, ok(emv::encode_constructed(
                                0x70, {emv::encode_tlv(0x5F24, hex("301231")),
                                       emv::encode_tlv(0x5F34, hex("02"))})));
  card->patch(kReadRecord2, ok(emv::encode_constructed(0x70, {emv::encode_tlv(0x5A, bcd(pan))})));
  auto result = read_card(card);
  REQUIRE(result);
  CHECK(result->pan.digits() == pan);
  CHECK(result->psn == 2);
  CHECK(result->apdu_count == 4);
}

TEST_CASE("the ATC is read and advances with each tap of the same card") {
  auto card = simulator::make_card("mastercard", 8).value();
  hal::sim::SimNfcReader reader;
  reader.place(card);
  std::vector<std::uint16_t> atcs;
  for (int tap = 0; tap < 3; ++tap) {
    REQUIRE(reader.wait_for_card(0ms).value().has_value());
    auto data = emv::CardReader().read(reader);
    REQUIRE(data);
    REQUIRE(data->atc.has_value());
    atcs.push_back(*data->atc);
    REQUIRE(reader.release());
  }
  CHECK(atcs[1] == atcs[0] + 1);
  CHECK(atcs[2] == atcs[1] + 1);
}

TEST_CASE("mutated card answers never crash the reader nor yield an invalid PAN") {
  // A card whose answer to one command has one byte changed, a byte dropped or the data cut
  // short. Whatever comes out must be a clean result: data with a valid PAN, or a card failure.
  class MutatingCard final : public hal::sim::ContactlessCard {
   public:
    MutatingCard(std::uint64_t seed)
        : inner_(simulator::make_card("visa", 1).value()),
          rng_(crypto::Drbg::deterministic(seed)),
          target_(rng_.uniform(3)) {}
    hal::CardInfo info() const override { return inner_->info(); }
    Result<Bytes> respond(ByteView apdu) override {
      auto answer = inner_->respond(apdu);
      if (!answer || seen_++ != target_ || answer->empty()) return answer;
      Bytes& a = *answer;
      const std::size_t at = rng_.uniform(a.size());
      switch (rng_.uniform(3)) {
        case 0: a[at] = static_cast<std::uint8_t>(rng_.uniform(256)); break;
        case 1: a.erase(a.begin() + static_cast<std::ptrdiff_t>(at)); break;
        default: a.resize(at); break;
      }
      return answer;
    }

   private:
    std::shared_ptr<hal::sim::ContactlessCard> inner_;
    crypto::Drbg rng_;
    std::uint64_t target_;
    std::uint64_t seen_ = 0;
  };

  int read = 0, refused = 0;
  for (std::uint64_t seed = 0; seed < 1500; ++seed) {
    auto result = read_card(std::make_shared<MutatingCard>(seed));
    if (result) {
      ++read;
      CHECK(result->pan.size() >= 12);
      CHECK(result->pan.luhn_valid());
    } else {
      ++refused;
      CHECK(result.error().kind == emv::ReadFailure::kCard);
      CHECK_FALSE(result.error().reason.empty());
    }
  }
  // Both outcomes occur: some mutations hit bytes nobody checks (a label), most do not.
  CHECK(read > 0);
  CHECK(refused > 0);
}
