// The payments loop on real components (issue "Fare engine and reconciliation", acceptance):
// a card its issuer declines online taps an in-process validator and is accepted offline; the
// tap syncs over mutual TLS to a real faregate-backoffice process; `faregate-backoffice
// fare-run` (a second process, while the daemon runs) verifies the card, the simulated
// acquirer declines it, and the token joins a new deny-list version; the validator's next sync
// brings the list and the same card is denied "deny_listed" at the gate; the rider pays
// (`payments pay-debt`), the token leaves the list, and after the next sync the card rides
// again.

#include <catch2/catch.hpp>

#include <stdio.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "backoffice/fares/local_time.h"
#include "backoffice/payments/ledger_store.h"
#include "common/bytes.h"
#include "hal/sim/manual_clock.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/network/backoffice_process.h"
#include "simulator/network/demo_fares.h"
#include "simulator/network/simulated_keys.h"
#include "simulator/network/virtual_validator.h"
#include "tests/support/temp_dir.h"

using namespace faregate;
using faregate::simulator::BackofficeProcess;
using faregate::simulator::VirtualValidator;

namespace {

constexpr std::uint64_t kSeed = 20260302;

struct Command {
  int exit_code = -1;
  std::string out;
};

// Runs faregate-backoffice with `args` and returns its exit code and stdout.
Command backoffice_command(const std::string& args) {
  const std::string command = std::string(FAREGATE_BACKOFFICE_BIN) + " " + args + " 2>&1";
  Command result;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

nlohmann::json json_of(const Command& c) {
  INFO(c.out);
  REQUIRE(c.exit_code == 0);
  return nlohmann::json::parse(c.out);
}

std::unique_ptr<VirtualValidator> make_validator(const std::filesystem::path& dir, std::uint16_t port,
                                                 const hal::Clock& clock, const hal::KeyStore& keys) {
  tap::TapPipelineConfig pc;
  pc.device_id = "central-entry-1";
  pc.stop_id = "central";
  pc.role = faregate::v1::VALIDATOR_ROLE_ENTRY;
  pc.firmware_version = "test";
  pc.anti_passback = std::chrono::seconds(0);
  sync::SyncOptions so;
  so.port = port;
  so.io_timeout = std::chrono::seconds(10);
  so.tls = simulator::provision_device_tls(dir / "pki", pc.device_id).value();
  static const auto ca_keys = simulator::simulated_ca_keys().value();
  auto v = VirtualValidator::create(dir / "validator" / "journal.db", pc, so, clock, keys, ca_keys);
  REQUIRE(v);
  return std::move(*v);
}

}  // namespace

TEST_CASE("a card declined online is denied at the gate after the next sync, and rides again once paid",
          "[integration][payments]") {
  faregate::testing::TempDir dir;
  const auto data = dir / "backoffice";
  std::filesystem::create_directories(data);
  // The operator's files: the fare feed, and the sealing private key the back office opens card
  // data with (the simulated operator's, matching the validators' public key).
  const auto gtfs = dir / "gtfs";
  std::filesystem::create_directories(gtfs);
  for (const auto& [name, text] : simulator::embedded_demo_fares()) std::ofstream(gtfs / name) << text;
  std::ofstream(data / "sealing_private.pem") << simulator::simulated_sealing_private_key(kSeed)->to_pem().value();

  auto backoffice = BackofficeProcess::start(FAREGATE_BACKOFFICE_BIN, data, 0, {"--log-level", "warn"});
  REQUIRE(backoffice);
  hal::sim::ManualClock clock(*fares::parse_iso8601_utc_ms("2026-03-02T07:00:00Z"));
  const auto keys = simulator::simulated_key_store(kSeed).value();
  auto v = make_validator(dir.path(), backoffice->port(), clock, keys);

  auto declining = simulator::make_card("insufficient_funds", 7).value();
  auto good = simulator::make_card("visa", 7).value();
  std::size_t declining_rides = 0;
  const auto tap = [&](const std::shared_ptr<hal::sim::ContactlessCard>& card) {
    clock.advance_ms(5 * 60'000);
    auto outcome = v->present(card);
    REQUIRE(outcome);
    return outcome->record;
  };

  // 1. Offline, the gate cannot know the issuer will decline: both cards ride.
  const auto first = tap(declining);
  REQUIRE(first.decision() == faregate::v1::DECISION_ACCEPT);
  ++declining_rides;
  REQUIRE(tap(good).decision() == faregate::v1::DECISION_ACCEPT);
  const std::string token_hex = to_hex(as_bytes(first.card_token()));
  auto synced = v->sync();
  REQUIRE(synced);
  REQUIRE(synced->inserted == 2);

  // 2. The fare run, a process of its own while the daemon ingests: the account verification
  // of the new card is declined and its token is denied in a new deny-list version.
  const std::string fare_run = "--data-dir " + data.string() + " fare-run --gtfs " + gtfs.string() +
                               " --acquirer simulated:decline-iin=476199 --now 2026-03-02T10:00:00Z --json";
  const auto run1 = json_of(backoffice_command(fare_run));
  CHECK(run1["verifications"]["made"] == 2);
  CHECK(run1["verifications"]["declined"] == 1);
  CHECK(run1["verifications"]["cards_identified"] == 2);
  CHECK(run1["deny_list"]["version"] == 1);
  CHECK(run1["deny_list"]["size"] == 1);
  CHECK(run1["balanced"] == true);
  const auto listed = json_of(backoffice_command("--data-dir " + data.string() + " deny-list show --json"));
  REQUIRE(listed["tokens"].size() == 1);
  CHECK(listed["tokens"][0] == token_hex);

  // The same run again changes nothing: no second verification, no new deny-list version.
  const auto run2 = json_of(backoffice_command(fare_run));
  CHECK(run2["verifications"]["made"] == 0);
  CHECK(run2["ledger"]["new_days"] == 0);
  CHECK(run2["ledger"]["unchanged_days"] == 2);
  CHECK(run2["deny_list"]["version"] == 1);
  CHECK(run2["ledger_runs"] == 2);

  // 3. The validator's next sync brings the deny list; the card is refused at the gate, the
  // good card still rides.
  REQUIRE(tap(good).decision() == faregate::v1::DECISION_ACCEPT);
  synced = v->sync();
  REQUIRE(synced);
  CHECK(synced->deny_list_applied == 1);
  CHECK(v->journal().deny_list_version().value() == 1);
  const auto opened_before = v->gate().times_opened();
  const auto denied = tap(declining);
  CHECK(denied.decision() == faregate::v1::DECISION_DENY);
  CHECK(denied.reason() == "deny_listed");
  CHECK(v->gate().times_opened() == opened_before);
  if (denied.decision() == faregate::v1::DECISION_ACCEPT) ++declining_rides;
  // A denied token rides at most once: the ride before the deny list arrived, none after.
  CHECK(declining_rides == 1);

  // 4. The next day the day's charge is due: it is declined too and becomes debt (the token is
  // already listed, so no new version).
  const auto run3 = json_of(backoffice_command("--data-dir " + data.string() + " fare-run --gtfs " + gtfs.string() +
                                               " --acquirer simulated:decline-iin=476199 --now 2026-03-03T12:00:00Z --json"));
  CHECK(run3["submitted"]["declined"] == 1);
  CHECK(run3["submitted"]["approved"] == 1);
  CHECK(run3["outstanding_debt"].get<std::int64_t>() > 0);
  CHECK(run3["deny_list"]["version"] == 1);
  CHECK(run3["balanced"] == true);

  // 5. The rider pays the debt: the token leaves the list in a new version, the validator
  // learns it on its next sync, and the card rides again.
  const auto paid = json_of(backoffice_command("--data-dir " + data.string() + " payments pay-debt --token " + token_hex + " --json"));
  CHECK(paid["lifted"] == true);
  CHECK(paid["charges_closed"] == 1);
  CHECK(paid["paid"] == run3["outstanding_debt"]);
  CHECK(paid["deny_list_version"] == 2);
  REQUIRE(tap(good).decision() == faregate::v1::DECISION_ACCEPT);
  synced = v->sync();
  REQUIRE(synced);
  CHECK(synced->deny_list_applied == 2);
  const auto again = tap(declining);
  CHECK(again.decision() == faregate::v1::DECISION_ACCEPT);
  CHECK(again.reason() == "ok");

  // Both cards rode again on a day already charged: each gets an extra charge (never a second
  // full charge). The good card's is approved; the issuer declines the other's, so that token
  // is listed again (a third version). The books still balance.
  REQUIRE(v->sync());
  const auto run4 = json_of(backoffice_command(fare_run));
  CHECK(run4["ledger"]["changed_days"] == 2);
  CHECK(run4["ledger"]["adjustments"] == 2);
  CHECK(run4["submitted"]["approved"] == 1);
  CHECK(run4["submitted"]["declined"] == 1);
  CHECK(run4["deny_list"]["version"] == 3);
  CHECK(run4["deny_list"]["size"] == 1);
  CHECK(run4["balanced"] == true);
  REQUIRE(backoffice->stop().value() == 0);
}

TEST_CASE("the daemon's scheduled fare runs deny a declined card and lift it once a resubmission is approved",
          "[integration][payments][schedule]") {
  faregate::testing::TempDir dir;
  const auto data = dir / "backoffice";
  std::filesystem::create_directories(data);
  const auto gtfs = dir / "gtfs";
  std::filesystem::create_directories(gtfs);
  for (const auto& [name, text] : simulator::embedded_demo_fares()) std::ofstream(gtfs / name) << text;

  // A ride two days ago (real time: the daemon's runs use the system clock), so that its
  // day's charge is due at the first scheduled run.
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  std::string token_hex;
  {
    auto backoffice = BackofficeProcess::start(FAREGATE_BACKOFFICE_BIN, data, 0, {"--log-level", "warn"});
    REQUIRE(backoffice);
    hal::sim::ManualClock clock(now_ms - 2 * 86'400'000);
    const auto keys = simulator::simulated_key_store(kSeed).value();
    auto v = make_validator(dir.path(), backoffice->port(), clock, keys);
    auto card = simulator::make_card("visa", 11).value();
    auto outcome = v->present(card);
    REQUIRE(outcome);
    REQUIRE(outcome->record.decision() == faregate::v1::DECISION_ACCEPT);
    token_hex = to_hex(as_bytes(outcome->record.card_token()));
    auto synced = v->sync();
    REQUIRE(synced);
    REQUIRE(synced->inserted == 1);
    REQUIRE(backoffice->stop().value() == 0);
  }

  // The daemon again, now running the fare run every second by itself. The acquirer declines
  // the card's first two requests (its account verification and the day's charge) and approves
  // the next (the charge's resubmission, due one second after the decline). No operator
  // command follows.
  auto backoffice = BackofficeProcess::start(
      FAREGATE_BACKOFFICE_BIN, data, 0,
      {"--log-level", "warn", "--fare-run-interval-s", "1", "--gtfs", gtfs.string(), "--acquirer",
       "simulated:decline-token=" + token_hex + ":2", "--resubmission-interval-s", "1"});
  REQUIRE(backoffice);
  const std::string show = "--data-dir " + data.string() + " deny-list show --json";
  nlohmann::json listed;
  // The daemon acts on its own timer: poll what validators would receive, with a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool seen_listed = false;
  for (;;) {
    listed = json_of(backoffice_command(show));
    if (listed["tokens"].size() == 1 && listed["tokens"][0] == token_hex) seen_listed = true;
    if (listed["version"].get<int>() >= 2 || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Version 1 listed the token (the declines), version 2 lifted it (the approval): two changes.
  CHECK(listed["version"] == 2);
  CHECK(listed["tokens"].empty());
  if (listed["version"].get<int>() == 1) CHECK(seen_listed);
  REQUIRE(backoffice->stop().value() == 0);

  // The ledger holds one charge, approved at its second attempt; runs after it changed nothing.
  auto store = payments::LedgerStore::open(data / "payments.db");
  REQUIRE(store);
  auto ledger = (*store)->read();
  REQUIRE(ledger);
  REQUIRE(ledger->has_value());
  REQUIRE((*ledger)->charges.size() == 1);
  CHECK((*ledger)->charges[0].state == payments::ChargeState::kApproved);
  CHECK((*ledger)->charges[0].attempts == 2);
  CHECK((*ledger)->charges[0].token.hex() == token_hex);
}
