// The tap pipeline on the in-process reader, virtual cards, a virtual gate, a manual clock and a
// real journal file: decisions, the order "journal, then gate", and where the PAN may not go.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <fstream>
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "common/crypto.h"
#include "common/sealed_box.h"
#include "common/sealed_card_data.h"
#include "firmware/tap/tap_pipeline.h"
#include "hal/sim/manual_clock.h"
#include "hal/sim/sim_gate.h"
#include "hal/sim/sim_nfc_reader.h"
#include "hal/sim/static_key_store.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/cards/simulator_pki.h"
#include "tests/firmware/emv/scripted_card.h"
#include "tests/support/temp_dir.h"

using namespace faregate;
using namespace std::chrono_literals;
using hal::sim::GateEvent;

namespace {

constexpr std::int64_t kMarch2nd2026 = 1'772'431'200'000;  // 2026-03-02T06:00Z
const Bytes kNetworkKey(32, 0x21);

// The back office's sealing key pair for these tests (a fixed scalar).
const sealed_box::PrivateKey& backoffice_key() {
  static const auto key = sealed_box::PrivateKey::from_raw(Bytes(32, 0x07)).value();
  return key;
}

const emv::oda::CaKeyTable& ca_keys() {
  static const emv::oda::CaKeyTable table = simulator::simulator_ca_keys().value();
  return table;
}

// Forwards to a SimGate and notes, at every action, how many taps the journal already holds:
// the proof that the gate moved only after the tap was durable.
class JournalWatchingGate final : public hal::Gate {
 public:
  explicit JournalWatchingGate(hal::sim::SimGate& inner) : inner_(inner) {}
  journal::Journal* journal = nullptr;
  std::vector<std::uint64_t> journaled_at_action;

  Status open() override { return note(inner_.open()); }
  Status close() override { return note(inner_.close()); }
  Status set_light(hal::Light light) override { return note(inner_.set_light(light)); }
  Status play(hal::Tone tone) override { return note(inner_.play(tone)); }
  Status show(std::string_view text) override { return note(inner_.show(text)); }

 private:
  Status note(Status s) {
    journaled_at_action.push_back(journal ? journal->stats().value().last_seq : 0);
    return s;
  }
  hal::sim::SimGate& inner_;
};

struct Bench {
  faregate::testing::TempDir dir;
  hal::sim::SimNfcReader reader;
  hal::sim::SimGate sim_gate;
  JournalWatchingGate gate{sim_gate};
  hal::sim::ManualClock clock{kMarch2nd2026};
  std::unique_ptr<hal::KeyStore> keys;
  crypto::Drbg drbg = crypto::Drbg::deterministic(99);
  std::unique_ptr<journal::Journal> journal;
  std::unique_ptr<tap::TapPipeline> pipeline;

  explicit Bench(std::string device = "gate-1", Bytes key = kNetworkKey,
                 std::function<void(tap::TapPipelineConfig&)> adjust = {})
      : keys(std::make_unique<hal::sim::StaticKeyStore>(std::move(key),
                                                        backoffice_key().public_key())) {
    journal = journal::Journal::open(dir.path() / "journal.db", device).value();
    gate.journal = journal.get();
    tap::TapPipelineConfig config;
    config.device_id = device;
    config.stop_id = "central";
    config.role = faregate::v1::VALIDATOR_ROLE_ENTRY;
    config.firmware_version = "1.2.3-test";
    config.anti_passback = 60s;
    if (adjust) adjust(config);
    pipeline = std::make_unique<tap::TapPipeline>(reader, gate, clock, *keys, *journal, ca_keys(),
                                                  drbg, config);
  }

  Result<std::optional<tap::TapOutcome>> present(std::shared_ptr<hal::sim::ContactlessCard> card) {
    reader.place(std::move(card));
    auto outcome = pipeline->poll(0ms);
    reader.remove();
    return outcome;
  }

  // Taps a catalog card; requires that the tap produced an outcome.
  tap::TapOutcome tap(std::string_view kind, std::uint64_t seed = 1) {
    auto outcome = present(simulator::make_card(kind, seed).value());
    REQUIRE(outcome);
    REQUIRE(outcome->has_value());
    return std::move(**outcome);
  }

  std::uint64_t journaled() { return journal->stats().value().last_seq; }
};

std::string pan_of(std::string_view kind, std::uint64_t seed) {
  return simulator::card_profile(kind, seed).value().pan;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> details(const std::vector<GateEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    out.push_back(e.kind == GateEvent::Kind::kOpen ? std::string("open") : e.detail);
  }
  return out;
}

// Captures everything spdlog's default logger writes while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

class FailingKeyStore final : public hal::KeyStore {
 public:
  Result<Bytes> card_token_key() const override {
    return make_error(ErrorCode::kIo, "key file unreadable");
  }
  Result<sealed_box::PublicKey> sealing_public_key() const override {
    return make_error(ErrorCode::kIo, "key file unreadable");
  }
};

// A MIFARE Classic-like card: no ISO 14443-4, so no APDUs.
class NotIsoDepCard final : public hal::sim::ContactlessCard {
 public:
  int apdus = 0;
  hal::CardInfo info() const override { return {Bytes{1, 2, 3, 4}, 0x0004, 0x08, {}}; }
  Result<Bytes> respond(ByteView) override {
    ++apdus;
    return Bytes{0x6D, 0x00};
  }
};

}  // namespace

TEST_CASE("an accepted tap is journaled first, then the gate greets, lights green and opens") {
  Bench b;
  const auto o = b.tap("visa");
  CHECK(o.record.decision() == faregate::v1::DECISION_ACCEPT);
  CHECK(o.record.reason() == "ok");
  CHECK(o.record.device_id() == "gate-1");
  CHECK(o.record.seq() == 1);
  CHECK(o.gate_opened);
  CHECK(o.apdu_count == 6);
  CHECK(o.record.oda() == faregate::v1::ODA_RESULT_FDDA);
  // The journal holds exactly the returned record.
  auto held = b.journal->unsynced(10).value();
  REQUIRE(held.size() == 1);
  CHECK(held[0].SerializeAsString() == o.record.SerializeAsString());
  // Gate: message, light, tone, open, in that order, each after the tap was durable.
  CHECK(details(b.sim_gate.events()) ==
        std::vector<std::string>{"Welcome", "green", "accept", "open"});
  CHECK(b.gate.journaled_at_action == std::vector<std::uint64_t>{1, 1, 1, 1});
  CHECK(b.sim_gate.times_opened() == 1);
}

TEST_CASE("the tap record carries the clock's times, the validator's place and the card's identity") {
  Bench b("bus-7", kNetworkKey, [](tap::TapPipelineConfig& c) {
    c.role = faregate::v1::VALIDATOR_ROLE_ONBOARD;
    c.route_id = "route-42";
  });
  b.clock.advance_ms(1234);
  const auto o = b.tap("mastercard", 17);
  const auto profile = simulator::card_profile("mastercard", 17).value();
  const auto& r = o.record;
  CHECK(r.tap_time_utc_ms() == kMarch2nd2026 + 1234);
  CHECK(r.monotonic_ms() == 1234);
  CHECK(r.stop_id() == "central");
  CHECK(r.role() == faregate::v1::VALIDATOR_ROLE_ONBOARD);
  CHECK(r.route_id() == "route-42");
  CHECK(r.firmware_version() == "1.2.3-test");
  CHECK(r.oda() == faregate::v1::ODA_RESULT_CDA);
  CHECK(r.scheme() == faregate::v1::CARD_SCHEME_MASTERCARD);
  CHECK(r.pan_last4() == profile.pan.substr(profile.pan.size() - 4));
  CHECK(r.atc() == profile.first_atc);
  // The sealed card data opens with the back office's key and holds what authorization needs.
  auto sealed = sealed_card_data::open(r, backoffice_key());
  REQUIRE(sealed);
  CHECK(sealed->pan() == profile.pan);
  CHECK(sealed->psn() == 1);
  CHECK(sealed->expiry_yymmdd() == "301231");
  CHECK(sealed->atc() == r.atc());
  CHECK(sealed->application_cryptogram().size() == 8);
  CHECK(sealed->cryptogram_information() == 0x80);
  CHECK(sealed->unpredictable_number().size() == 4);
  // Another key, or the box moved next to another device's id, opens nothing.
  auto other = sealed_box::PrivateKey::from_raw(Bytes(32, 0x08)).value();
  auto wrong_key = sealed_card_data::open(r, other);
  REQUIRE_FALSE(wrong_key);
  CHECK(wrong_key.error().code == ErrorCode::kCrypto);
  auto moved = r;
  moved.set_device_id("gate-2");
  CHECK_FALSE(sealed_card_data::open(moved, backoffice_key()));
  // card_token = HMAC-SHA256(key, PAN digits || PSN "01"), recomputed here from the profile.
  const auto expected = crypto::hmac_sha256(kNetworkKey, as_bytes(profile.pan + "01")).value();
  CHECK(r.card_token() == std::string(expected.begin(), expected.end()));
  CHECK(o.processing.count() > 0);
}

TEST_CASE("an empty field gives no outcome, journals nothing and leaves the gate alone") {
  Bench b;
  auto outcome = b.pipeline->poll(0ms);
  REQUIRE(outcome);
  CHECK_FALSE(outcome->has_value());
  CHECK(b.journaled() == 0);
  CHECK(b.sim_gate.events().empty());
}

TEST_CASE("an expired card is denied, journaled, and the gate stays closed") {
  Bench b;
  const auto o = b.tap("expired");
  CHECK(o.record.decision() == faregate::v1::DECISION_DENY);
  CHECK(o.record.reason() == "card_expired");
  CHECK(o.record.card_token().size() == 32);  // a read card keeps its identity when denied
  CHECK_FALSE(o.gate_opened);
  CHECK(b.sim_gate.times_opened() == 0);
  CHECK(details(b.sim_gate.events()) ==
        std::vector<std::string>{"Card expired", "red", "deny"});
  CHECK(b.gate.journaled_at_action == std::vector<std::uint64_t>{1, 1, 1});
  CHECK(b.journaled() == 1);
}

TEST_CASE("a card is accepted through its expiry day and denied from the next UTC day") {
  Bench b;
  b.clock.set_utc_ms(1'924'991'999'000);  // 2030-12-31T23:59:59Z, the virtual cards' expiry day
  CHECK(b.tap("visa", 1).record.reason() == "ok");
  b.clock.set_utc_ms(1'924'992'000'000);  // 2031-01-01T00:00:00Z
  CHECK(b.tap("visa", 2).record.reason() == "card_expired");
}

TEST_CASE("a deny-listed card token is refused, other cards pass") {
  Bench b;
  const auto first = b.tap("mastercard", 9).record;
  REQUIRE(first.reason() == "ok");
  faregate::v1::DenyListDelta delta;
  delta.set_from_version(0);
  delta.set_to_version(1);
  delta.add_added(first.card_token());
  REQUIRE(b.journal->apply_deny_list(delta));
  b.clock.advance_ms(3'600'000);  // well past anti-passback
  const auto second = b.tap("mastercard", 9);
  CHECK(second.record.decision() == faregate::v1::DECISION_DENY);
  CHECK(second.record.reason() == "deny_listed");
  CHECK_FALSE(second.gate_opened);
  CHECK(b.sim_gate.events().back().detail == "deny");
  CHECK(b.tap("mastercard", 10).record.reason() == "ok");
  CHECK(b.sim_gate.times_opened() == 2);
}

TEST_CASE("the same card at the same validator is refused within the anti-passback window") {
  Bench b;
  CHECK(b.tap("visa", 3).record.reason() == "ok");
  b.clock.advance_ms(30'000);
  const auto again = b.tap("visa", 3);
  CHECK(again.record.reason() == "anti_passback");
  CHECK_FALSE(again.gate_opened);
  CHECK(b.sim_gate.events()[4].detail == "Card already used here");
  CHECK(b.tap("visa", 4).record.reason() == "ok");  // another card is not affected
  b.clock.advance_ms(29'999);                          // 59.999 s after the accept
  CHECK(b.tap("visa", 3).record.reason() == "anti_passback");
  b.clock.advance_ms(1);                               // 60 s: the window has passed
  CHECK(b.tap("visa", 3).record.reason() == "ok");
  CHECK(b.journaled() == 5);
}

TEST_CASE("a pushed config bundle's anti-passback window takes precedence over the default") {
  Bench b;
  faregate::v1::ConfigBundle config;
  config.set_version(1);
  config.set_anti_passback_seconds(600);
  REQUIRE(b.journal->apply_config(config));
  CHECK(b.tap("visa", 3).record.reason() == "ok");
  b.clock.advance_ms(300'000);
  CHECK(b.tap("visa", 3).record.reason() == "anti_passback");
  b.clock.advance_ms(300'000);
  CHECK(b.tap("visa", 3).record.reason() == "ok");
}

TEST_CASE("a zero anti-passback window lets the same card through at once") {
  Bench b("gate-1", kNetworkKey, [](tap::TapPipelineConfig& c) { c.anti_passback = 0s; });
  CHECK(b.tap("visa", 3).record.reason() == "ok");
  CHECK(b.tap("visa", 3).record.reason() == "ok");
}

TEST_CASE("the anti-passback memory is bounded and forgets the oldest accept first") {
  Bench b("gate-1", kNetworkKey, [](tap::TapPipelineConfig& c) { c.anti_passback_capacity = 2; });
  CHECK(b.tap("visa", 1).record.reason() == "ok");
  b.clock.advance_ms(1000);
  CHECK(b.tap("visa", 2).record.reason() == "ok");
  b.clock.advance_ms(1000);
  CHECK(b.tap("visa", 3).record.reason() == "ok");  // full: card 1 is forgotten
  b.clock.advance_ms(1000);
  CHECK(b.tap("visa", 3).record.reason() == "anti_passback");
  CHECK(b.tap("visa", 2).record.reason() == "anti_passback");
  CHECK(b.tap("visa", 1).record.reason() == "ok");
}

TEST_CASE("each unreadable card kind is denied with its read failure as the reason") {
  Bench b;
  for (const auto& [kind, reason] : std::vector<std::pair<std::string, std::string>>{
           {"no_ppse", "ppse_not_found"},
           {"unsupported_aid", "no_supported_application"},
           {"truncated_tlv", "malformed_tlv"},
           {"missing_pan", "pan_missing"}}) {
    INFO(kind);
    b.sim_gate.clear();
    const auto o = b.tap(kind);
    CHECK(o.record.decision() == faregate::v1::DECISION_DENY);
    CHECK(o.record.reason() == reason);
    CHECK(o.record.card_token().empty());
    CHECK(o.record.pan_last4().empty());
    CHECK(o.record.scheme() == faregate::v1::CARD_SCHEME_UNSPECIFIED);
    CHECK(details(b.sim_gate.events()) ==
          std::vector<std::string>{"Card not accepted", "red", "deny"});
  }
  CHECK(b.journaled() == 4);
  CHECK(b.sim_gate.times_opened() == 0);
}

TEST_CASE("every catalog kind gets the decision the catalog promises") {
  Bench b;
  std::uint64_t seed = 100;
  for (const auto& kind : simulator::card_kinds()) {
    INFO(kind.name);
    const auto o = b.tap(kind.name, ++seed);
    CHECK((o.record.decision() == faregate::v1::DECISION_ACCEPT ? "accept" : "deny") == kind.expect);
  }
}

TEST_CASE("a card without ISO 14443-4 is denied as unsupported_card without any APDU") {
  Bench b;
  auto card = std::make_shared<NotIsoDepCard>();
  auto outcome = b.present(card);
  REQUIRE(outcome);
  REQUIRE(outcome->has_value());
  CHECK((*outcome)->record.reason() == "unsupported_card");
  CHECK((*outcome)->apdu_count == 0);
  CHECK(card->apdus == 0);
  CHECK(b.journaled() == 1);
}

TEST_CASE("a card that goes silent is denied as card_timeout and asked to tap again") {
  Bench b;
  auto card = std::make_shared<emv::test::PatchedCard>(simulator::make_card("visa", 1).value());
  card->fail("00b2010c00", ErrorCode::kTimeout);
  auto outcome = b.present(card);
  REQUIRE(outcome);
  REQUIRE(outcome->has_value());
  CHECK((*outcome)->record.reason() == "card_timeout");
  CHECK((*outcome)->apdu_count == 4);  // PPSE, SELECT, GPO, the READ RECORD unanswered
  CHECK(b.sim_gate.events()[0].detail == "Please tap again");
  CHECK(b.journaled() == 1);
}

TEST_CASE("a card removed mid-exchange journals nothing and reports kCardRemoved") {
  Bench b;
  for (std::size_t after : {0u, 1u, 2u}) {
    INFO("removed after " << after << " APDUs");
    b.sim_gate.clear();
    b.reader.place(simulator::make_card("visa", 1).value());
    b.reader.remove_card_after_apdus(after);
    auto outcome = b.pipeline->poll(0ms);
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error().code == ErrorCode::kCardRemoved);
    CHECK(b.journaled() == 0);
    CHECK(b.sim_gate.times_opened() == 0);
    CHECK(details(b.sim_gate.events()) == std::vector<std::string>{"Please tap again"});
  }
  // The same card tapped properly afterwards is a normal first tap.
  b.reader.place(simulator::make_card("visa", 1).value());
  auto retry = b.pipeline->poll(0ms);
  REQUIRE(retry);
  CHECK((*retry)->record.reason() == "ok");
  CHECK((*retry)->record.seq() == 1);
}

TEST_CASE("a reader that disappears is an error, not a tap") {
  Bench b;
  b.reader.place(simulator::make_card("visa", 1).value());
  b.reader.disconnect();
  auto outcome = b.pipeline->poll(0ms);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == ErrorCode::kUnavailable);
  CHECK(b.journaled() == 0);

  // The reader fails in the middle of the exchange: still the reader's error, not a deny.
  b.reader.reconnect();
  auto card = std::make_shared<emv::test::PatchedCard>(simulator::make_card("visa", 1).value());
  card->fail("00b2010c00", ErrorCode::kUnavailable);
  auto mid = b.present(card);
  REQUIRE_FALSE(mid);
  CHECK(mid.error().code == ErrorCode::kUnavailable);
  CHECK(b.journaled() == 0);
  CHECK(b.sim_gate.events().empty());
}

TEST_CASE("poll releases the card after each tap") {
  Bench b;
  b.reader.place(simulator::make_card("visa", 1).value());
  REQUIRE(b.pipeline->poll(0ms));
  auto after = b.reader.transceive(from_hex("00b2010c00").value(), 100ms);
  REQUIRE_FALSE(after);
  CHECK(after.error().code == ErrorCode::kInvalidArgument);  // no card is active
}

TEST_CASE("one card gives one token on every validator with the network key, another with another key") {
  Bench a("gate-a");
  Bench b("gate-b");
  Bench c("gate-c", Bytes(32, 0x99));
  const auto ta = a.tap("visa", 11).record.card_token();
  const auto tb = b.tap("visa", 11).record.card_token();
  const auto tc = c.tap("visa", 11).record.card_token();
  REQUIRE(ta.size() == 32);
  CHECK(ta == tb);
  CHECK(ta != tc);
  CHECK(a.tap("visa", 12).record.card_token() != ta);  // and another card another token
}

TEST_CASE("the PAN is nowhere in the journal file or its WAL, as ASCII digits or as BCD") {
  Bench b;
  std::vector<std::string> pans;
  std::vector<std::string> tokens;
  for (const char* kind : {"visa", "mastercard", "maestro", "expired"}) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      tokens.push_back(b.tap(kind, seed).record.card_token());
      pans.push_back(pan_of(kind, seed));
      b.clock.advance_ms(1000);
    }
  }
  auto check_files = [&](bool expect_wal) {
    std::string files = slurp(b.dir.path() / "journal.db");
    const auto wal = b.dir.path() / "journal.db-wal";
    if (expect_wal) REQUIRE(std::filesystem::exists(wal));
    if (std::filesystem::exists(wal)) files += slurp(wal);
    // The search really looks at the taps: their tokens are there, as raw bytes.
    for (const auto& token : tokens) REQUIRE(files.find(token) != std::string::npos);
    for (const auto& pan : pans) {
      INFO("PAN ending " << pan.substr(pan.size() - 4));
      const Bytes packed = from_hex(pan.size() % 2 ? pan + "F" : pan).value();
      CHECK(files.find(pan) == std::string::npos);
      CHECK(files.find(std::string(packed.begin(), packed.end())) == std::string::npos);
      // Without the padding nibble too, and the first 12 digits alone (an IIN + account).
      CHECK(files.find(pan.substr(0, 12)) == std::string::npos);
      const Bytes first6 = from_hex(pan.substr(0, 12)).value();
      CHECK(files.find(std::string(first6.begin(), first6.end())) == std::string::npos);
    }
  };
  check_files(true);   // while open: the taps live in the WAL
  b.pipeline.reset();
  b.journal.reset();   // closing checkpoints the WAL into the main file
  check_files(false);
}

TEST_CASE("the log has one line per tap with its token prefix, and never the PAN") {
  std::string log;
  std::string token_hex;
  {
    LogCapture capture;
    Bench b;
    const auto o = b.tap("mastercard", 21);
    b.tap("truncated_tlv", 21);
    token_hex = to_hex(as_bytes(o.record.card_token()));
    log = capture.text();
  }
  const std::string pan = pan_of("mastercard", 21);
  CHECK(log.find(pan) == std::string::npos);
  CHECK(log.find(pan.substr(0, 12)) == std::string::npos);
  CHECK(log.find(pan_of("truncated_tlv", 21)) == std::string::npos);
  CHECK(log.find("device=gate-1 seq=1 decision=accept reason=ok oda=ODA_RESULT_CDA token=" +
                 token_hex.substr(0, 8) + " apdus=7 us=") != std::string::npos);
  CHECK(log.find("seq=2 decision=deny reason=malformed_tlv oda=ODA_RESULT_NOT_PERFORMED token=-") !=
        std::string::npos);
  CHECK(log.find(token_hex.substr(0, 9)) == std::string::npos);  // only 8 hex digits
}

TEST_CASE("a key store that fails keeps the gate closed and journals nothing") {
  Bench b;
  b.keys = std::make_unique<FailingKeyStore>();
  tap::TapPipelineConfig config;
  config.device_id = "gate-1";
  tap::TapPipeline pipeline(b.reader, b.gate, b.clock, *b.keys, *b.journal, ca_keys(), b.drbg,
                            config);
  b.reader.place(simulator::make_card("visa", 1).value());
  auto outcome = pipeline.poll(0ms);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == ErrorCode::kIo);
  CHECK(b.journaled() == 0);
  CHECK(details(b.sim_gate.events()) ==
        std::vector<std::string>{"Please tap again", "amber", "error"});
}

TEST_CASE("a journal that cannot store the tap keeps the gate closed and says tap again") {
  Bench b;
  // A second connection holds the write lock, so the pipeline's append times out.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open((b.dir.path() / "journal.db").c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  auto outcome = b.present(simulator::make_card("visa", 1).value());
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  REQUIRE_FALSE(outcome);
  CHECK(b.sim_gate.times_opened() == 0);
  CHECK(details(b.sim_gate.events()) ==
        std::vector<std::string>{"Please tap again", "amber", "error"});
  CHECK(b.journaled() == 0);
  // Once the journal is writable again, the same card is a first tap (no anti-passback from a
  // tap that was never stored).
  CHECK(b.tap("visa", 1).record.reason() == "ok");
}

TEST_CASE("each reason has rider-facing text") {
  CHECK(tap::rider_message("ok") == "Welcome");
  CHECK(tap::rider_message("card_expired") == "Card expired");
  CHECK(tap::rider_message("deny_listed") == "Card refused - see staff");
  CHECK(tap::rider_message("anti_passback") == "Card already used here");
  CHECK(tap::rider_message("card_timeout") == "Please tap again");
  CHECK(tap::rider_message("malformed_tlv") == "Card not accepted");
  CHECK(tap::rider_message("some_future_reason") == "Card not accepted");
}

TEST_CASE("every catalog card kind gets the outcome, reason and ODA the catalog promises") {
  Bench b;
  for (const auto& kind : simulator::card_kinds()) {
    INFO(kind.name);
    const auto o = b.tap(kind.name, 31);
    CHECK((o.record.decision() == faregate::v1::DECISION_ACCEPT) == (kind.expect == "accept"));
    CHECK(o.record.reason() == kind.reason);
    CHECK(o.gate_opened == (kind.expect == "accept"));
    if (kind.oda == "fdda") CHECK(o.record.oda() == faregate::v1::ODA_RESULT_FDDA);
    if (kind.oda == "cda") CHECK(o.record.oda() == faregate::v1::ODA_RESULT_CDA);
    if (kind.oda == "sda") CHECK(o.record.oda() == faregate::v1::ODA_RESULT_SDA);
    if (kind.reason.starts_with("oda_")) CHECK(o.record.oda() == faregate::v1::ODA_RESULT_FAILED);
    // Cards that were read carry their data sealed; cards that could not be read carry none.
    CHECK(o.record.sealed_card_data().empty() == o.record.card_token().empty());
    b.clock.advance_ms(1000);
  }
}
