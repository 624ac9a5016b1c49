// The simulator's virtual EMV cards: the catalog of kinds, and cards that parse the commands they
// get and answer with the data and status words a real card would.
#include <catch2/catch.hpp>

#include <set>

#include "firmware/emv/tlv.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/cards/emv_card.h"

using namespace faregate;

namespace {

constexpr const char* kSelectPpse = "00a404000e325041592e5359532e444446303100";

Bytes hex(const std::string& h) { return from_hex(h).value(); }

struct Answer {
  Bytes data;
  std::string sw;
};

Answer send(hal::sim::ContactlessCard& card, const std::string& command_hex) {
  const Bytes command = hex(command_hex);
  auto raw = card.respond(command);
  REQUIRE(raw);
  REQUIRE(raw->size() >= 2);
  return {Bytes(raw->begin(), raw->end() - 2), to_hex(ByteView(*raw).last(2))};
}

std::string select_aid(const Bytes& aid) {
  return "00a40400" + to_hex(Bytes{static_cast<std::uint8_t>(aid.size())}) + to_hex(aid) + "00";
}

bool luhn_ok(const std::string& pan) {
  int sum = 0;
  for (std::size_t i = 0; i < pan.size(); ++i) {
    int d = pan[pan.size() - 1 - i] - '0';
    if (i % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 == 0;
}

// PPSE, SELECT of the first listed application, READ RECORD 1: the record's data.
Bytes first_record(hal::sim::ContactlessCard& card) {
  const auto ppse = send(card, kSelectPpse);
  REQUIRE(ppse.sw == "9000");
  auto fci = emv::parse_tlv(ppse.data).value();
  const auto* aid = emv::find_tag(fci, 0x4F);
  REQUIRE(aid);
  REQUIRE(send(card, select_aid(Bytes(aid->value.begin(), aid->value.end()))).sw == "9000");
  const auto record = send(card, "00b2010c00");
  REQUIRE(record.sw == "9000");
  return record.data;
}

}  // namespace

TEST_CASE("every listed card kind can be made and says what it should get") {
  std::set<std::string> names;
  std::set<std::string> deny_reasons;
  std::size_t denied = 0;
  for (const auto& kind : simulator::card_kinds()) {
    INFO(kind.name);
    CHECK((kind.expect == "accept" || kind.expect == "deny"));
    CHECK((kind.expect == "accept") == (kind.reason == "ok"));
    CHECK((kind.expect == "accept") == !kind.oda.empty());
    CHECK_FALSE(kind.about.empty());
    CHECK(simulator::make_card(kind.name, 1));
    names.insert(kind.name);
    if (kind.expect == "deny") {
      ++denied;
      deny_reasons.insert(kind.reason);
    }
  }
  // No two faulty kinds share a reason: each fault is told apart in the tap record.
  CHECK(deny_reasons.size() == denied);
  CHECK(names.size() == simulator::card_kinds().size());
  for (const char* required :
       {"visa", "mastercard", "maestro", "sda_only", "expired", "no_ppse", "unsupported_aid",
        "truncated_tlv", "missing_pan", "missing_record", "revoked_issuer", "tampered_sdad",
        "unknown_ca", "wrong_pan_cert", "blocked"}) {
    INFO(required);
    CHECK(names.contains(required));
  }
}

TEST_CASE("an unknown kind is refused with the known kinds named") {
  auto card = simulator::make_card("amex-platinum", 1);
  REQUIRE_FALSE(card);
  CHECK(card.error().code == ErrorCode::kInvalidArgument);
  CHECK(card.error().message.find("visa") != std::string::npos);
  CHECK(card.error().message.find("missing_pan") != std::string::npos);
}

TEST_CASE("a virtual card activates with a 7-byte UID, ATQA 0044, SAK 20 and an ATS led by TL") {
  auto card = simulator::make_card("visa", 1).value();
  const auto info = card->info();
  CHECK(info.uid.size() == 7);
  CHECK(info.atqa == 0x0044);
  CHECK(info.sak == 0x20);
  CHECK(info.supports_iso_dep());
  REQUIRE_FALSE(info.ats.empty());
  CHECK(info.ats[0] == info.ats.size());
  CHECK(simulator::make_card("visa", 1).value()->info().uid == info.uid);
  CHECK(simulator::make_card("visa", 2).value()->info().uid != info.uid);
}

TEST_CASE("SELECT PPSE returns an FCI whose directory lists every application") {
  auto card = simulator::make_card("co_badged", 1).value();
  const auto ppse = send(*card, kSelectPpse);
  REQUIRE(ppse.sw == "9000");
  auto fci = emv::parse_tlv(ppse.data).value();
  REQUIRE(fci.size() == 1);
  CHECK(fci[0].tag == 0x6F);
  CHECK(to_string(fci[0].find(0x84)->value) == "2PAY.SYS.DDF01");
  const auto* directory = fci[0].find(0xBF0C);
  REQUIRE(directory);
  REQUIRE(directory->children.size() == 2);
  CHECK(to_hex(directory->children[0].find(0x4F)->value) == "a0000002771010");
  CHECK(to_hex(directory->children[0].find(0x87)->value) == "01");
  CHECK(to_hex(directory->children[1].find(0x4F)->value) == "a0000000043060");
  CHECK(to_hex(directory->children[1].find(0x87)->value) == "02");
  CHECK(to_string(directory->children[1].find(0x50)->value) == "MAESTRO");
}

TEST_CASE("commands the card cannot serve get the ISO 7816-4 status words") {
  auto card = simulator::make_card("visa", 1).value();
  CHECK(send(*card, "00a4040005a00000009900").sw == "6a82");           // unknown AID
  CHECK(send(*card, "80ca9f1700").sw == "6d00");                       // GET DATA: not here
  CHECK(send(*card, "84b2010c00").sw == "6e00");                       // secure messaging CLA
  CHECK(send(*card, "00a4040007a0000000031010").sw == "9000");        // case 3 is fine too
  CHECK(send(*card, "00a4040009a000000003101000").sw == "6700");      // Lc says 9, 8 follow
  CHECK(send(*card, "00a4000007a000000003101000").sw == "6a86");      // select by file id
  CHECK(send(*card, "00b2030c00").sw == "6a83");                       // no record 3
  CHECK(send(*card, "00b20114").sw == "6700");                         // READ RECORD without Le
  CHECK(send(*card, "00b2011c00").sw == "6a82");                       // no SFI 3
  CHECK(send(*card, "00b2010800").sw == "6a86");                       // P2 not "record number"
  CHECK(send(*card, "00a4").sw == "6700");                             // not even a header
}

TEST_CASE("records cannot be read before an application is selected") {
  auto card = simulator::make_card("visa", 1).value();
  CHECK(send(*card, "00b2010c00").sw == "6985");
  REQUIRE(send(*card, kSelectPpse).sw == "9000");
  CHECK(send(*card, "00b2010c00").sw == "6985");  // the PPSE is not an application
  REQUIRE(send(*card, select_aid(hex("A0000000031010"))).sw == "9000");
  CHECK(send(*card, "00b2010c00").sw == "9000");
  card->on_deselect();
  CHECK(send(*card, "00b2010c00").sw == "6985");
}

TEST_CASE("an Le shorter than the answer gets 6Cxx naming the right length") {
  auto card = simulator::make_card("visa", 1).value();
  const auto whole = send(*card, kSelectPpse);
  REQUIRE(whole.sw == "9000");
  const auto short_le = send(*card, "00a404000e325041592e5359532e444446303105");
  CHECK(short_le.data.empty());
  CHECK(short_le.sw == "6c" + to_hex(Bytes{static_cast<std::uint8_t>(whole.data.size())}));
}

TEST_CASE("a chaining card answers in parts fetched with GET RESPONSE") {
  auto card = simulator::make_card("chained", 1).value();
  CHECK(send(*card, "00c0000010").sw == "6985");  // nothing pending
  // The issuer certificate record is longer than one part.
  auto ppse = send(*card, kSelectPpse);
  while (ppse.sw.starts_with("61")) ppse = send(*card, "00c00000" + ppse.sw.substr(2));
  REQUIRE(ppse.sw == "9000");
  auto selected = send(*card, select_aid(hex("A0000000031010")));
  while (selected.sw.starts_with("61")) selected = send(*card, "00c00000" + selected.sw.substr(2));
  auto part = send(*card, "00b2011400");
  Bytes fci = part.data;
  CHECK(part.data.size() == 64);
  int rounds = 0;
  while (part.sw.starts_with("61")) {
    part = send(*card, "00c00000" + part.sw.substr(2));
    fci.insert(fci.end(), part.data.begin(), part.data.end());
    ++rounds;
  }
  CHECK(part.sw == "9000");
  CHECK(rounds >= 1);
  auto parsed = emv::parse_tlv(fci);
  REQUIRE(parsed);
  CHECK(emv::find_tag(*parsed, 0x90) != nullptr);
}

TEST_CASE("record 1 holds track 2, PAN, expiry, PSN and CDOL1, and GPO raises the ATC by one a tap") {
  const auto profile = simulator::card_profile("mastercard", 5).value();
  auto card = std::make_shared<simulator::EmvCard>(profile);
  const Bytes record = first_record(*card);
  auto tlv = emv::parse_tlv(record).value();
  REQUIRE(tlv.size() == 1);
  CHECK(tlv[0].tag == 0x70);
  CHECK(to_hex(tlv[0].find(0x5A)->value) == profile.pan);  // 16 digits: no padding
  CHECK(to_hex(tlv[0].find(0x57)->value).starts_with(profile.pan + "d3012201"));
  CHECK(to_hex(tlv[0].find(0x5F24)->value) == "301231");
  CHECK(to_hex(tlv[0].find(0x5F34)->value) == "01");
  CHECK(tlv[0].find(0x8C) != nullptr);
  CHECK(to_hex(tlv[0].find(0x9F4A)->value) == "82");

  // A CDA card answers GPO in format 80 (AIP || AFL) and counts the transaction.
  const auto gpo = send(*card, "80a8000002830000");
  REQUIRE(gpo.sw == "9000");
  CHECK(to_hex(gpo.data) == "800a" "1980" "08010101" "10010200");
  CHECK(card->atc() == profile.first_atc);
  card->on_deselect();
  first_record(*card);
  REQUIRE(send(*card, "80a8000002830000").sw == "9000");
  CHECK(card->atc() == profile.first_atc + 1);
}

TEST_CASE("virtual PANs derive from kind and seed, pass Luhn and carry the scheme's prefix") {
  struct Expect {
    const char* kind;
    const char* prefix;
    std::size_t digits;
  };
  for (const Expect& e : {Expect{"visa", "4", 16}, Expect{"mastercard", "5", 16},
                          Expect{"maestro", "6", 19}, Expect{"unsupported_aid", "6011", 16}}) {
    for (std::uint64_t seed : {1u, 2u, 77u, 123456789u}) {
      INFO(e.kind << " seed " << seed);
      const std::string pan = simulator::card_profile(e.kind, seed).value().pan;
      CHECK(pan.starts_with(e.prefix));
      CHECK(pan.size() == e.digits);
      CHECK(luhn_ok(pan));
      CHECK(simulator::card_profile(e.kind, seed).value().pan == pan);
    }
  }
  CHECK(simulator::card_profile("visa", 1).value().pan !=
        simulator::card_profile("visa", 2).value().pan);
  CHECK(simulator::card_profile("visa", 1).value().pan !=
        simulator::card_profile("expired", 1).value().pan);
  // A 19-digit PAN is sent as 10 BCD bytes ending in an F nibble.
  auto maestro = simulator::make_card("maestro", 1).value();
  auto record = first_record(*maestro);
  auto tlv = emv::parse_tlv(record).value();
  CHECK(to_hex(tlv[0].find(0x5A)->value) ==
        simulator::card_profile("maestro", 1).value().pan + "f");
}

TEST_CASE("faulty kinds show their fault on the wire") {
  SECTION("no_ppse answers 6A82 to SELECT PPSE") {
    auto card = simulator::make_card("no_ppse", 1).value();
    CHECK(send(*card, kSelectPpse).sw == "6a82");
  }
  SECTION("truncated_tlv's record holds 57 30 with fewer bytes behind it") {
    auto card = simulator::make_card("truncated_tlv", 1).value();
    const Bytes record = first_record(*card);
    const std::string h = to_hex(record);
    CHECK(h.find("5730") != std::string::npos);
    auto parsed = emv::parse_tlv(record);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().message.find("length 48") != std::string::npos);
  }
  SECTION("missing_pan's records carry neither 5A nor 57") {
    auto card = simulator::make_card("missing_pan", 1).value();
    const Bytes record = first_record(*card);
    auto tlv = emv::parse_tlv(record).value();
    CHECK(emv::find_tag(tlv, 0x5A) == nullptr);
    CHECK(emv::find_tag(tlv, 0x57) == nullptr);
    CHECK(emv::find_tag(tlv, 0x5F24) != nullptr);
    for (const char* other : {"00b2011400", "00b2021400"}) {  // the certificate records
      const auto r = send(*card, other);
      CHECK(r.sw == "9000");
      auto more = emv::parse_tlv(r.data).value();
      CHECK(emv::find_tag(more, 0x5A) == nullptr);
    }
  }
  SECTION("expired carries an expiry date in the past") {
    auto card = simulator::make_card("expired", 1).value();
    const Bytes record = first_record(*card);
    auto tlv = emv::parse_tlv(record).value();
    CHECK(to_hex(emv::find_tag(tlv, 0x5F24)->value) == "240131");
  }
}
