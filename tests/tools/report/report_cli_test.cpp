// faregate-report on a real SQLite tap store and a real agency's fare policy (Transcollines).
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <string>

#include "backoffice/store/sqlite_tap_store.h"
#include "tests/support/temp_dir.h"

namespace {

faregate::v1::TapRecord tap(std::uint64_t seq, std::int64_t utc_ms, const std::string& stop,
                            faregate::v1::ValidatorRole role, const std::string& card) {
  faregate::v1::TapRecord r;
  r.set_device_id("bus-910-a");
  r.set_seq(seq);
  r.set_tap_time_utc_ms(utc_ms);
  r.set_stop_id(stop);
  r.set_role(role);
  r.set_route_id("910");
  r.set_card_token(std::string(32, card[0]));
  r.set_decision(faregate::v1::DECISION_ACCEPT);
  return r;
}

// Runs a command; returns its exit status and standard output.
std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("faregate-report reconciles a stored day to the cent and reports a sequence gap", "[report][cli]") {
  faregate::testing::TempDir dir;
  const auto db = dir / "taps.db";
  {
    auto store = faregate::store::SqliteTapStore::open(db);
    REQUIRE(store);
    // 2026-03-02 06:10 EST = 11:10 UTC. Card a: Pontiac (F103-06) -> Gatineau (F401-10): 20.00.
    // Card b: Collines (F101-01) -> Gatineau: 5.00.
    const std::int64_t t0 = 1'772'449'800'000;
    std::vector<faregate::v1::TapRecord> taps{
        tap(1, t0, "F103-06", faregate::v1::VALIDATOR_ROLE_ENTRY, "a"),
        tap(2, t0 + 60'000, "F101-01", faregate::v1::VALIDATOR_ROLE_ENTRY, "b"),
        tap(3, t0 + 4'500'000, "F401-10", faregate::v1::VALIDATOR_ROLE_EXIT, "a"),
        tap(4, t0 + 4'560'000, "F401-10", faregate::v1::VALIDATOR_ROLE_EXIT, "b"),
    };
    REQUIRE((*store)->store_batch("bus-910-a", taps));
  }
  const std::string base = std::string(FAREGATE_REPORT_BINARY) + " --store sqlite:" + db.string() + " --gtfs " +
                           FAREGATE_TRANSCOLLINES_GTFS;
  auto [status, out] = run(base + " --simulate-payments");
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find("\"balanced\":true,\"currency\":\"CAD\"") != std::string::npos);
  CHECK(out.find("\"revenue\":2500") != std::string::npos);
  CHECK(out.find("\"approved\":2500") != std::string::npos);
  CHECK(out.find("\"settled\":2500") != std::string::npos);

  auto [csv_status, csv] = run(base + " --format csv --section days");
  CHECK(csv_status == 0);
  CHECK(csv == "service_day,cards,legs,orphan_taps,unpriced_legs,maximum_fare_legs,fare_total,transfer_discount,"
               "cap_discount,capped_cards,revenue,ledger_total,currency\n"
               "2026-03-02,2,2,0,0,0,2500,0,0,0,2500,,CAD\n");

  // A tap with seq 6 arrives while seq 5 is missing: the report does not balance and says why.
  {
    auto store = faregate::store::SqliteTapStore::open(db);
    REQUIRE(store);
    std::vector<faregate::v1::TapRecord> late{tap(6, 1'772'449'800'000 + 9'000'000, "F101-01",
                                                  faregate::v1::VALIDATOR_ROLE_ENTRY, "c")};
    REQUIRE((*store)->store_batch("bus-910-a", late));
  }
  auto [gap_status, gap] = run(base + " --format csv --section discrepancies");
  CHECK(gap_status == 4);
  CHECK(gap.find("tap_accounting,bus-910-a,1 sequence number(s) missing") != std::string::npos);
}
