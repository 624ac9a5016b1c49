#include <catch2/catch.hpp>

#include "firmware/journal/journal.h"
#include "firmware/tap/tap_pipeline.h"
#include "simulator/network/journal_reader.h"
#include "simulator/network/tap_result.h"
#include "simulator/network/validator_process.h"
#include "tests/support/temp_dir.h"

using namespace faregate;
using namespace faregate::simulator;
using hal::sim::GateEvent;

TEST_CASE("a validator log line splits into level and message") {
  auto line = parse_log_line(
      "2026-03-02T07:31:02.120 validator info: tap device=central-entry-1 seq=42 decision=accept "
      "reason=ok oda=ODA_RESULT_FDDA token=0a1b2c3d apdus=6 us=1830");
  REQUIRE(line);
  CHECK(line->level == "info");
  CHECK(line->message.starts_with("tap device="));
  CHECK(log_field(line->message, "device") == "central-entry-1");
  CHECK(log_field(line->message, "seq") == "42");
  CHECK(log_field(line->message, "us") == "1830");
  CHECK(log_field(line->message, "decision") == "accept");
  CHECK(log_field(line->message, "nope").empty());
  // "token" must not match inside another word, nor "s" inside "us".
  CHECK(log_field("xtoken=1 token=2", "token") == "2");
  CHECK(log_field("us=5", "s").empty());

  auto gate = parse_log_line("2026-03-02T07:31:02.119 validator debug: gate: text Card not accepted");
  REQUIRE(gate);
  CHECK(gate->level == "debug");
  CHECK(gate->message == "gate: text Card not accepted");

  CHECK_FALSE(parse_log_line("garbage"));
  CHECK_FALSE(parse_log_line(""));
  CHECK_FALSE(parse_log_line("cannot start the program"));
}

TEST_CASE("the gate echo parses back into gate events") {
  auto open = parse_gate_echo("open");
  REQUIRE(open);
  CHECK(open->kind == GateEvent::Kind::kOpen);
  CHECK(open->detail.empty());
  auto text = parse_gate_echo("text Please tap again");
  REQUIRE(text);
  CHECK(text->kind == GateEvent::Kind::kText);
  CHECK(text->detail == "Please tap again");
  CHECK_FALSE(parse_gate_echo("explode now"));
}

TEST_CASE("a gate did its job only with the exact actions of the decision") {
  const auto accept = expected_gate_actions(true, "ok");
  REQUIRE(accept.size() == 4);
  CHECK(accept[0].kind == GateEvent::Kind::kText);
  CHECK(accept[0].detail == tap::rider_message("ok"));
  CHECK(accept[1].detail == "green");
  CHECK(accept[3].kind == GateEvent::Kind::kOpen);
  CHECK(gate_did(accept, true, "ok"));

  const auto deny = expected_gate_actions(false, "card_expired");
  REQUIRE(deny.size() == 3);
  CHECK(deny[1].detail == "red");
  CHECK(gate_did(deny, false, "card_expired"));
  // Opening on a deny, a missing tone, the wrong message: all wrong.
  auto opened = deny;
  opened.push_back({GateEvent::Kind::kOpen, ""});
  CHECK_FALSE(gate_did(opened, false, "card_expired"));
  CHECK_FALSE(gate_did({deny[0], deny[1]}, false, "card_expired"));
  CHECK_FALSE(gate_did(deny, false, "deny_listed"));
  CHECK_FALSE(gate_did(accept, false, "ok"));
}

TEST_CASE("the journal reader sees what the journal holds, beside an open journal") {
  testing::TempDir dir;
  auto journal = journal::Journal::open(dir.path() / "journal.db", "gate-9");
  REQUIRE(journal);
  for (int i = 0; i < 3; ++i) {
    faregate::v1::TapRecord record;
    record.set_tap_time_utc_ms(1'000 + i);
    record.set_decision(i == 1 ? faregate::v1::DECISION_DENY : faregate::v1::DECISION_ACCEPT);
    record.set_reason(i == 1 ? "card_expired" : "ok");
    REQUIRE((*journal)->append(record));
  }
  REQUIRE((*journal)->mark_synced(2));
  auto read = read_journal(dir.path() / "journal.db");
  REQUIRE(read);
  CHECK(read->last_seq == 3);
  CHECK(read->synced_through == 2);
  REQUIRE(read->taps.size() == 3);
  CHECK(read->taps.at(2).reason() == "card_expired");
  CHECK(read->taps.at(3).device_id() == "gate-9");

  auto missing = read_journal(dir.path() / "nope.db");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kNotFound);
}

TEST_CASE("a provisioned validator directory holds the simulated network's keys") {
  testing::TempDir dir;
  REQUIRE(provision_validator_dir(dir.path() / "v", 7, {}, "gate-1"));
  CHECK(std::filesystem::exists(dir.path() / "v" / "card_token.key"));
  CHECK(std::filesystem::exists(dir.path() / "v" / "sealing_public.pem"));
  const auto perms = std::filesystem::status(dir.path() / "v" / "card_token.key").permissions();
  CHECK((perms & std::filesystem::perms::others_read) == std::filesystem::perms::none);
  // Again: the files are kept, not an error.
  REQUIRE(provision_validator_dir(dir.path() / "v", 7, {}, "gate-1"));
  REQUIRE(write_simulator_ca_keys(dir.path() / "ca.json"));
  CHECK(std::filesystem::file_size(dir.path() / "ca.json") > 100);
}

TEST_CASE("a child process's output comes back line by line and its exit code is reported") {
  auto child = ChildProcess::spawn({"/bin/sh", "-c", "echo one; echo two >&2; printf three; exit 3"});
  REQUIRE(child);
  std::vector<std::string> lines;
  while (!(*child)->eof()) (*child)->wait_lines(lines, 1000);
  CHECK(lines == std::vector<std::string>{"one", "two", "three"});
  CHECK((*child)->wait_or_kill(5000) == 3);

  auto missing = ChildProcess::spawn({"/nonexistent/program"});
  REQUIRE(missing);
  CHECK((*missing)->wait_or_kill(5000) == 127);
}
