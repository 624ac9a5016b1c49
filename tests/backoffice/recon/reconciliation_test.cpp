// Reconciliation: stored tap records -> legs -> fares -> charges -> settlement balance to the
// cent, and every place they do not is listed.
#include "backoffice/recon/reconciliation.h"
#include "tests/backoffice/fares/fares_test_support.h"

using namespace faregate;
using namespace faregate::fares;
using namespace faregate::fares::testing;

namespace {

v1::TapRecord record(const std::string& device, std::uint64_t seq, const char* iso, const std::string& stop,
                     v1::ValidatorRole role, const std::string& card_name, const std::string& route = "",
                     v1::Decision decision = v1::DECISION_ACCEPT) {
  v1::TapRecord r;
  r.set_device_id(device);
  r.set_seq(seq);
  r.set_tap_time_utc_ms(at(iso));
  r.set_stop_id(stop);
  r.set_role(role);
  r.set_route_id(route);
  r.set_card_token(card_name);
  r.set_decision(decision);
  return r;
}

struct Day {
  FarePolicy policy = load(base_feed());
  recon::TapBook book{policy, 4 * 3600 + 1800};
  std::vector<recon::DeviceInput> devices{{"gate-central", 3, 3, 3, 0, 0}, {"gate-north", 1, 1, 1, 0, 0},
                                          {"bus-7", 3, 4, 3, 1, 0}};
  Day() {
    book.add(std::vector<v1::TapRecord>{
        record("gate-central", 1, "2026-03-03T08:00:00+01:00", "central-gate", v1::VALIDATOR_ROLE_ENTRY, "alice"),
        record("gate-central", 2, "2026-03-03T08:01:00+01:00", "central-gate", v1::VALIDATOR_ROLE_ENTRY, "mallory", "",
               v1::DECISION_DENY),
        record("gate-central", 3, "2026-03-03T09:00:00+01:00", "central-gate", v1::VALIDATOR_ROLE_ENTRY, "bob")});
    book.add(std::vector<v1::TapRecord>{
        record("gate-north", 1, "2026-03-03T08:20:00+01:00", "north-gate", v1::VALIDATOR_ROLE_EXIT, "alice")});
    book.add(std::vector<v1::TapRecord>{
        record("bus-7", 1, "2026-03-03T08:30:00+01:00", "bus-a", v1::VALIDATOR_ROLE_ONBOARD, "alice", "b7"),
        record("bus-7", 2, "2026-03-03T10:00:00+01:00", "nowhere", v1::VALIDATOR_ROLE_ONBOARD, "bob", "b7"),
        record("bus-7", 4, "2026-03-03T11:00:00+01:00", "bus-b", v1::VALIDATOR_ROLE_ONBOARD, "bob", "b7")});
  }
};

}  // namespace

TEST_CASE("a reconciled day lists devices, gaps, orphans and day totals", "[recon]") {
  Day d;
  const auto pricing = price(d.policy, d.book.taps());
  recon::ReconInput in;
  in.policy = &d.policy;
  in.taps = &d.book;
  in.devices = d.devices;
  in.pricing = &pricing;
  const auto report = recon::reconcile(in);
  CHECK(report.totals.taps_received == 7);
  CHECK(report.totals.taps_denied == 1);
  CHECK(report.totals.taps_priced == 6);
  CHECK(report.totals.sequence_gaps == 1);
  REQUIRE(report.orphans.size() == 1);
  CHECK(report.orphans[0].reason == "unknown_stop");
  CHECK(report.orphans[0].device_id == "bus-7");
  REQUIRE(report.days.size() == 1);
  // alice: central -> north 2.00 + bus 1.50; bob: no tap-out at central, then a bus at 11:00
  // (the 10:00 tap is an orphan): auto-completed central -> bus-b on the metro (3.50), bus 1.50.
  CHECK(report.days[0].revenue == 200 + 150 + 350 + 150);
  CHECK(report.days[0].maximum_fare_legs == 0);
  CHECK(report.totals.revenue == 850);
  // The sequence gap on bus-7 is reported: the day does not balance until seq 3 arrives.
  CHECK_FALSE(report.balanced);
  REQUIRE(report.discrepancies.size() == 1);
  CHECK(report.discrepancies[0].where == "bus-7");
  CHECK(recon::to_json(report)["totals"]["revenue"] == 850);
  CHECK(recon::to_csv(report, "days").starts_with("service_day,cards,legs,"));
  CHECK(recon::to_csv(report, "days").find("2026-03-03,2,4,1,0,0,850,0,0,0,850,,EUR") != std::string::npos);
}

TEST_CASE("charges, authorizations and settlement balance to the cent, or the report says where not", "[recon][payments]") {
  Day d;
  d.devices[2] = {"bus-7", 4, 4, 4, 0, 0};  // the gap filled
  const auto pricing = price(d.policy, d.book.taps());
  payments::PaymentsLedger ledger(d.policy.currency, {});
  payments::SimulatedAcquirer acquirer;
  payments::MemoryDenyList deny;
  acquirer.decline_always(card("bob"));
  ledger.record(pricing);
  ledger.submit_due(acquirer, deny, days_from_civil(2026, 3, 4), at("2026-03-04T12:00:00+01:00"));
  auto settlement = ledger.match_settlement(acquirer.settle());
  recon::ReconInput in;
  in.policy = &d.policy;
  in.taps = &d.book;
  in.devices = d.devices;
  in.pricing = &pricing;
  in.ledger = &ledger;
  in.settlement = &settlement;
  in.deny_list = &deny;
  const auto report = recon::reconcile(in);
  INFO(recon::to_json(report).dump(2));
  CHECK(report.balanced);
  CHECK(report.totals.approved == 350);
  CHECK(report.totals.settled == 350);
  CHECK(report.totals.declined_charges == 1);
  CHECK(report.totals.outstanding_debt == 500);
  CHECK(report.totals.deny_list_size == 1);
  CHECK(report.days[0].ledger_total == 850);

  // A late tap re-priced but not yet given to the ledger: the report names the card-day.
  Day later;
  later.devices[2] = {"bus-7", 4, 4, 4, 0, 0};
  later.book.add(std::vector<v1::TapRecord>{record("gate-central", 4, "2026-03-03T09:30:00+01:00", "central-gate",
                                                   v1::VALIDATOR_ROLE_EXIT, "bob")});
  const auto repriced = price(later.policy, later.book.taps());
  in.taps = &later.book;
  in.pricing = &repriced;
  const auto stale = recon::reconcile(in);
  CHECK_FALSE(stale.balanced);
  REQUIRE_FALSE(stale.discrepancies.empty());
  CHECK(stale.discrepancies[0].check == "ledger_day");
  CHECK(stale.discrepancies[0].where == card("bob").hex() + "@2026-03-03");
}
