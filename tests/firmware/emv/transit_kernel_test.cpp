// The transit kernel against every virtual card kind and against hostile card answers: good
// cards give their data and pass ODA, each fault its own reason, and nothing a card sends
// crashes the kernel.
#include <catch2/catch.hpp>

#include "common/crypto.h"
#include "firmware/emv/afl.h"
#include "firmware/emv/transit_kernel.h"
#include "firmware/emv/tlv.h"
#include "hal/sim/sim_nfc_reader.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/cards/emv_card.h"
#include "simulator/cards/simulator_pki.h"
#include "simulator/cards/transcript_card.h"
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

const emv::oda::CaKeyTable& ca_keys() {
  static const emv::oda::CaKeyTable table = simulator::simulator_ca_keys().value();
  return table;
}

emv::TransactionInput tap_input() {
  emv::TransactionInput input;
  input.date = std::chrono::year_month_day{std::chrono::year(2026), std::chrono::November,
                                           std::chrono::day(29)};
  input.unpredictable_number = {0xDE, 0xAD, 0xBE, 0xEF};
  return input;
}

emv::TransitKernel default_kernel() { return emv::TransitKernel(emv::TerminalConfig{}, ca_keys()); }

ReadResult read_card(std::shared_ptr<hal::sim::ContactlessCard> card,
                     const emv::TransitKernel& kernel = default_kernel()) {
  hal::sim::SimNfcReader reader;
  reader.place(std::move(card));
  REQUIRE(reader.wait_for_card(0ms).value().has_value());
  return kernel.read(reader, tap_input());
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

TEST_CASE("a Visa card is read and authenticated by fDDA with six APDUs, no PSN reading as 0") {
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
  // SELECT PPSE, SELECT AID, GPO, READ RECORD x3 (SFI 1 record 1, SFI 2 records 1-2).
  CHECK(card->apdu_count == 6);
  CHECK(card->oda == emv::OdaMethod::kFdda);
  CHECK_FALSE(card->oda_failure.has_value());
  CHECK(card->application_cryptogram.size() == 8);
  CHECK(card->cryptogram_information == 0x80);
  CHECK(card->unpredictable_number == tap_input().unpredictable_number);
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
  emv::TerminalConfig config;
  config.supported_aids = {{hex("A0000000031010"), faregate::v1::CARD_SCHEME_VISA}};
  const emv::TransitKernel visa_only(config, ca_keys());
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
                        Case{"blocked", "application_blocked", 2},
                        Case{"truncated_tlv", "malformed_tlv", 4},
                        Case{"missing_record", "record_missing", 7},
                        Case{"missing_pan", "pan_missing", 6}}) {
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
  CHECK(card->apdu_count > 6);
  CHECK(card->oda == emv::OdaMethod::kFdda);
  CHECK_FALSE(card->oda_failure.has_value());
}

TEST_CASE("a card pulled away during the read is reported as gone, not as a bad card") {
  for (std::size_t after : {0u, 1u, 2u}) {
    INFO("removed after " << after << " APDUs");
    hal::sim::SimNfcReader reader;
    reader.place(simulator::make_card("visa", 1).value());
    reader.remove_card_after_apdus(after);
    REQUIRE(reader.wait_for_card(0ms).value().has_value());
    auto card = default_kernel().read(reader, tap_input());
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
       ok(emv::encode_constructed(0x77, {pan_tlv, expiry_tlv})), "record_not_readable"},
      {"record refused", kReadRecord1, hex("6985"), "record_not_readable"},
      {"no record 1", kReadRecord1, hex("6A83"), "record_missing"},
      {"PAN twice in one record", kReadRecord1, record({pan_tlv, pan_tlv, expiry_tlv}),
       "duplicate_tag"},
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

TEST_CASE("the ATC is read and advances with each tap of the same card") {
  auto card = simulator::make_card("mastercard", 8).value();
  hal::sim::SimNfcReader reader;
  reader.place(card);
  std::vector<std::uint16_t> atcs;
  for (int tap = 0; tap < 3; ++tap) {
    REQUIRE(reader.wait_for_card(0ms).value().has_value());
    auto data = default_kernel().read(reader, tap_input());
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
  // One card for every seed (its answers depend only on the commands and its ATC): making a
  // card signs certificates, which would dominate the run.
  static auto shared_visa = [] {
    static auto card = simulator::make_card("visa", 1).value();
    return card;
  };
  class MutatingCard final : public hal::sim::ContactlessCard {
   public:
    MutatingCard(std::uint64_t seed)
        : inner_(shared_visa()),
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

  int read = 0, refused = 0, refused_by_oda = 0;
  for (std::uint64_t seed = 0; seed < 600; ++seed) {
    auto result = read_card(std::make_shared<MutatingCard>(seed));
    if (result) {
      ++read;
      CHECK(result->pan.size() >= 12);
      CHECK(result->pan.luhn_valid());
      // Data the card signed cannot change unnoticed: a mutated GPO answer (third command)
      // that still parses must fail fDDA or keep exactly the signed values.
      if (result->oda_failure) ++refused_by_oda;
    } else {
      ++refused;
      CHECK(result.error().kind == emv::ReadFailure::kCard);
      CHECK_FALSE(result.error().reason.empty());
    }
  }
  // Both outcomes occur: some mutations hit bytes nobody checks (a label), most do not.
  CHECK(read > 0);
  CHECK(refused > 0);
  CHECK(refused_by_oda > 0);
}

TEST_CASE("Mastercard-style cards are authenticated by CDA in the GENERATE AC answer") {
  for (const char* kind : {"mastercard", "maestro", "co_badged"}) {
    INFO(kind);
    auto card = read_kind(kind);
    REQUIRE(card);
    CHECK(card->oda == emv::OdaMethod::kCda);
    CHECK_FALSE(card->oda_failure.has_value());
    // PPSE, SELECT, GPO (format 80), three records, GENERATE AC.
    CHECK(card->apdu_count == 7);
    CHECK(card->application_cryptogram.size() == 8);
    CHECK(card->cryptogram_information == 0x80);  // an ARQC: authorized later, online
    CHECK(card->atc.has_value());
  }
}

TEST_CASE("an SDA-only card is authenticated by its signed static data") {
  auto card = read_kind("sda_only");
  REQUIRE(card);
  CHECK(card->oda == emv::OdaMethod::kSda);
  CHECK_FALSE(card->oda_failure.has_value());
}

TEST_CASE("each card with bad ODA data is read but fails ODA with a failure of its own") {
  struct Case {
    const char* kind;
    emv::oda::OdaFailure failure;
  };
  for (const Case& c : {Case{"revoked_issuer", emv::oda::OdaFailure::kIssuerCertRevoked},
                        Case{"tampered_sdad", emv::oda::OdaFailure::kSdadHashMismatch},
                        Case{"unknown_ca", emv::oda::OdaFailure::kCaKeyUnknown},
                        Case{"wrong_pan_cert", emv::oda::OdaFailure::kIccCertPanMismatch},
                        Case{"expired", emv::oda::OdaFailure::kIccCertExpired}}) {
    INFO(c.kind);
    auto card = read_kind(c.kind);
    REQUIRE(card);
    REQUIRE(card->oda_failure.has_value());
    CHECK(*card->oda_failure == c.failure);
  }
}

TEST_CASE("a CDA signature over another unpredictable number fails the SDAD hash") {
  auto profile = simulator::card_profile("mastercard", 5).value();
  profile.fault = simulator::CardFault::kTamperedSdad;
  auto card = read_card(std::make_shared<simulator::EmvCard>(profile));
  REQUIRE(card);
  CHECK(card->oda == emv::OdaMethod::kCda);
  REQUIRE(card->oda_failure.has_value());
  CHECK(*card->oda_failure == emv::oda::OdaFailure::kSdadHashMismatch);
}

TEST_CASE("without the test CA's keys no simulated card passes ODA") {
  const emv::oda::CaKeyTable empty;
  const emv::TransitKernel kernel(emv::TerminalConfig{}, empty);
  auto card = read_card(simulator::make_card("visa", 1).value(), kernel);
  REQUIRE(card);
  REQUIRE(card->oda_failure.has_value());
  CHECK(*card->oda_failure == emv::oda::OdaFailure::kCaKeyUnknown);
}

TEST_CASE("the PDOL data carries the terminal's TTQ, amount, currency, date and unpredictable number") {
  auto recorder = std::make_shared<simulator::RecordingCard>(simulator::make_card("visa", 1).value(),
                                                             "test");
  emv::TerminalConfig config;
  config.amount_minor = 250;
  config.currency_code = 826;
  const emv::TransitKernel kernel(config, ca_keys());
  REQUIRE(read_card(recorder, kernel));
  const auto& exchanges = recorder->transcript().exchanges;
  REQUIRE(exchanges.size() == 6);
  // 80 A8 00 00 23 83 21 | TTQ 28000080 | amount 000000000250 | other 000000000000 | country
  // 0250 | TVR 0000000000 | currency 0826 | date 261129 | type 00 | UN deadbeef | Le 00
  CHECK(exchanges[2].command ==
        "80a80000238321" "28000080" "000000000250" "000000000000" "0250" "0000000000" "0826"
        "261129" "00" "deadbeef" "00");
}

TEST_CASE("a recorded transcript replays to the same outcome, and a replayed signature fails") {
  auto recorder = std::make_shared<simulator::RecordingCard>(
      simulator::make_card("mastercard", 2).value(), "mastercard seed 2");
  auto original = read_card(recorder);
  REQUIRE(original);
  REQUIRE_FALSE(original->oda_failure.has_value());
  auto transcript = simulator::parse_transcript(simulator::transcript_json(recorder->transcript()));
  REQUIRE(transcript);

  auto replay = std::make_shared<simulator::TranscriptCard>(*transcript);
  auto again = read_card(replay);
  REQUIRE(again);
  CHECK(replay->fully_consumed());
  CHECK(replay->mismatches().empty());
  CHECK(again->pan.digits() == original->pan.digits());
  CHECK_FALSE(again->oda_failure.has_value());

  // The GENERATE AC command carries the unpredictable number: wildcard it, and a tap with a
  // fresh number gets the old signature, which CDA refuses (a replayed card is caught).
  auto& gac = transcript->exchanges.back().command;
  REQUIRE(gac.starts_with("80ae9000"));
  const std::size_t un_at = (5 + 25) * 2;  // header + CDOL1 bytes before the UN
  gac.replace(un_at, 8, "????????");
  auto replayed = std::make_shared<simulator::TranscriptCard>(*transcript);
  hal::sim::SimNfcReader reader;
  reader.place(replayed);
  REQUIRE(reader.wait_for_card(0ms).value().has_value());
  auto input = tap_input();
  input.unpredictable_number = {1, 2, 3, 4};
  auto fresh = default_kernel().read(reader, input);
  REQUIRE(fresh);
  CHECK(replayed->fully_consumed());
  REQUIRE(fresh->oda_failure.has_value());
  CHECK(*fresh->oda_failure == emv::oda::OdaFailure::kSdadHashMismatch);
}

TEST_CASE("a transcript that does not match what the kernel sends is reported") {
  auto transcript = simulator::parse_transcript(R"({
    "format": "faregate-card-transcript/1",
    "card": {"uid": "04010203040506", "atqa": "0044", "sak": "20", "ats": "0578807002"},
    "exchanges": [{"command": "00a4040007a000000003101000", "response": "6a82"}]
  })");
  REQUIRE(transcript);
  auto card = std::make_shared<simulator::TranscriptCard>(*transcript);
  auto result = read_card(card);
  REQUIRE_FALSE(result);
  CHECK(result.error().reason == "ppse_not_found");
  CHECK_FALSE(card->fully_consumed());
  CHECK(card->mismatches().size() == 1);

  CHECK_FALSE(simulator::parse_transcript("{}"));
  CHECK_FALSE(simulator::parse_transcript(R"({"format": "faregate-card-transcript/1",
    "card": {"uid": "04", "atqa": "0044", "sak": "20", "ats": ""},
    "exchanges": [{"command": "00a4?", "response": "9000"}]})"));
}

TEST_CASE("the AFL is parsed strictly") {
  auto ok_afl = emv::parse_afl(hex("08010100" "10010200"));
  REQUIRE(ok_afl);
  CHECK(ok_afl->size() == 2);
  CHECK((*ok_afl)[1] == emv::AflEntry{2, 1, 2, 0});
  CHECK_FALSE(emv::parse_afl(hex("")));
  CHECK_FALSE(emv::parse_afl(hex("080101")));        // not a multiple of four
  CHECK_FALSE(emv::parse_afl(hex("09010100")));      // low bits of the SFI byte set
  CHECK_FALSE(emv::parse_afl(hex("00010100")));      // SFI 0
  CHECK_FALSE(emv::parse_afl(hex("F8010100")));      // SFI 31
  CHECK_FALSE(emv::parse_afl(hex("08000100")));      // record 0
  CHECK_FALSE(emv::parse_afl(hex("08020100")));      // last before first
  CHECK_FALSE(emv::parse_afl(hex("08010102")));      // more ODA records than records
  CHECK_FALSE(emv::parse_afl(hex("0801FE00")));      // 254 records: over the cap
}
