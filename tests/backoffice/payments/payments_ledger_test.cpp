// Payments: aggregated charges per card token, adjustments after late taps, deny list on
// decline, bounded debt recovery, account verification, settlement matching.
#include "backoffice/payments/payments_ledger.h"
#include "tests/backoffice/fares/fares_test_support.h"

using namespace faregate::fares;
using namespace faregate::fares::testing;
using namespace faregate::payments;

namespace {

const CurrencyCode kEur = *CurrencyCode::parse("EUR");
const std::int32_t kMar3 = days_from_civil(2026, 3, 3);
const std::int64_t kMar4Noon = at("2026-03-04T12:00:00+01:00");

std::size_t count(const PaymentsLedger& l, ChargeKind kind) {
  return static_cast<std::size_t>(std::count_if(l.charges().begin(), l.charges().end(),
                                                [&](const Charge& c) { return c.kind == kind; }));
}

}  // namespace

TEST_CASE("one charge per card token and service day, sent once the day is over", "[payments]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a").bus("a", "2026-03-03T18:00:00+01:00", "bus-b");
  t.bus("b", "2026-03-03T09:00:00+01:00", "bus-a");
  PaymentsLedger ledger(kEur, {});
  SimulatedAcquirer acquirer;
  MemoryDenyList deny;
  REQUIRE(ledger.record(price(p, t.all()))->new_days == 2);
  // Same service day: nothing is sent yet (the day may still get taps).
  CHECK(ledger.submit_due(acquirer, deny, kMar3, at("2026-03-03T20:00:00+01:00")).approved == 0);
  const auto out = ledger.submit_due(acquirer, deny, kMar3 + 1, kMar4Noon);
  CHECK(out.approved == 2);
  REQUIRE(ledger.charges().size() == 2);
  CHECK(ledger.charges()[0].amount == 300);
  CHECK(ledger.charges()[0].state == ChargeState::kApproved);
  CHECK(ledger.charges()[1].amount == 150);
  CHECK(ledger.submit_due(acquirer, deny, kMar3 + 2, kMar4Noon + kDayMs).approved == 0);  // never twice
}

TEST_CASE("late taps re-price a day into an adjustment or a refund, never a second full charge", "[payments][late-taps]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.entry("a", "2026-03-03T08:00:00+01:00", "central-gate");  // exit tap still on an offline validator
  PaymentsLedger ledger(kEur, {});
  SimulatedAcquirer acquirer;
  MemoryDenyList deny;
  ledger.record(price(p, t.all()));
  ledger.submit_due(acquirer, deny, kMar3 + 1, kMar4Noon);
  REQUIRE(ledger.charges().size() == 1);
  CHECK(ledger.charges()[0].amount == 350);  // maximum fare

  // Re-pricing the same taps is idempotent.
  auto same = ledger.record(price(p, t.all()));
  CHECK(same->unchanged_days == 1);
  CHECK(ledger.charges().size() == 1);

  // The exit arrives days later: the journey was central -> north (2.00): 1.50 goes back.
  t.exit("a", "2026-03-03T08:15:00+01:00", "north-gate");
  auto late = ledger.record(price(p, t.all()));
  CHECK(late->adjustments == 1);
  REQUIRE(ledger.charges().size() == 2);
  CHECK(ledger.charges()[1].kind == ChargeKind::kRefund);
  CHECK(ledger.charges()[1].amount == 150);
  // Another late tap, a bus ride the same day: an extra charge of 1.50.
  t.bus("a", "2026-03-03T19:00:00+01:00", "bus-a");
  ledger.record(price(p, t.all()));
  REQUIRE(ledger.charges().size() == 3);
  CHECK(ledger.charges()[2].kind == ChargeKind::kAdjustment);
  CHECK(ledger.charges()[2].amount == 150);
  CHECK(ledger.submit_due(acquirer, deny, kMar3 + 5, kMar4Noon + 4 * kDayMs).approved == 2);
  CHECK(count(ledger, ChargeKind::kCharge) == 1);
  CHECK(*ledger.day_total(card("a"), kMar3) == 350);
  // The books: 3.50 charged - 1.50 refunded + 1.50 extra = 3.50 = the day's new total.
}

TEST_CASE("charges aggregate over the travel period, and a spend limit sends them early", "[payments]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-02T08:00:00+01:00", "bus-a");
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a");
  t.bus("a", "2026-03-04T08:00:00+01:00", "bus-a");
  PaymentsOptions three_days;
  three_days.travel_period_days = 3;
  PaymentsLedger ledger(kEur, three_days);
  SimulatedAcquirer acquirer;
  MemoryDenyList deny;
  ledger.record(price(p, t.all()));
  REQUIRE(ledger.charges().size() == 1);
  CHECK(ledger.charges()[0].amount == 450);
  CHECK(ledger.charges()[0].last_day - ledger.charges()[0].first_day == 2);
  // A late tap on a day still aggregating changes the open charge: no adjustment.
  t.bus("a", "2026-03-03T18:00:00+01:00", "bus-b");
  CHECK(ledger.record(price(p, t.all()))->adjustments == 0);
  CHECK(ledger.charges()[0].amount == 600);
  CHECK(ledger.submit_due(acquirer, deny, days_from_civil(2026, 3, 4), kMar4Noon).approved == 0);
  CHECK(ledger.submit_due(acquirer, deny, days_from_civil(2026, 3, 5), kMar4Noon + kDayMs).approved == 1);

  PaymentsOptions limited = three_days;
  limited.spend_limit = 300;
  PaymentsLedger early(kEur, limited);
  Taps u(p);
  u.bus("b", "2026-03-02T08:00:00+01:00", "bus-a").bus("b", "2026-03-02T18:00:00+01:00", "bus-a");
  early.record(price(p, u.all()));
  CHECK(early.submit_due(acquirer, deny, days_from_civil(2026, 3, 2), kMar4Noon).approved == 1);
}

TEST_CASE("a declined charge denies the token; a resubmission approved lifts it", "[payments][debt]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a");
  PaymentsLedger ledger(kEur, {});
  SimulatedAcquirer acquirer;
  acquirer.decline_next(card("a"), 2);
  MemoryDenyList deny;
  ledger.record(price(p, t.all()));
  auto first = ledger.submit_due(acquirer, deny, kMar3 + 1, kMar4Noon);
  CHECK(first.declined == 1);
  CHECK(deny.contains(card("a")));
  CHECK(ledger.outstanding_debt(card("a")) == 150);
  // Not due again before the interval.
  CHECK(ledger.submit_due(acquirer, deny, kMar3 + 1, kMar4Noon + kHourMs).resubmitted == 0);
  CHECK(ledger.submit_due(acquirer, deny, kMar3 + 2, kMar4Noon + kDayMs).declined == 1);
  auto third = ledger.submit_due(acquirer, deny, kMar3 + 3, kMar4Noon + 2 * kDayMs);
  CHECK(third.approved == 1);
  CHECK_FALSE(deny.contains(card("a")));
  CHECK(ledger.charges()[0].attempts == 3);
  CHECK(ledger.outstanding_debt(card("a")) == 0);
  // Validators learn both changes in order.
  const auto changes = deny.changes_since(0);
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].added);
  CHECK_FALSE(changes[1].added);
  CHECK(deny.changes_since(1).size() == 1);
}

TEST_CASE("debt recovery is bounded: six resubmissions within 14 days, then the rider must pay", "[payments][debt]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a");
  PaymentsLedger ledger(kEur, {});
  SimulatedAcquirer acquirer;
  acquirer.decline_always(card("a"));
  MemoryDenyList deny;
  ledger.record(price(p, t.all()));
  std::size_t exhausted = 0;
  for (int day = 1; day <= 20; ++day) {
    exhausted += ledger.submit_due(acquirer, deny, kMar3 + day, kMar4Noon + (day - 1) * kDayMs).exhausted;
  }
  CHECK(ledger.charges()[0].attempts == 7);  // the first submission and six resubmissions
  CHECK(ledger.charges()[0].state == ChargeState::kOutstanding);
  CHECK(exhausted == 1);
  CHECK(acquirer.requests() == 7);
  CHECK(deny.contains(card("a")));
  ledger.rider_paid(card("a"), deny);
  CHECK_FALSE(deny.contains(card("a")));
  CHECK(ledger.charges()[0].state == ChargeState::kPaidByRider);
  CHECK(ledger.outstanding_debt(card("a")) == 0);
}

TEST_CASE("a token's first tap is verified once; a declined verification denies it", "[payments]") {
  PaymentsLedger ledger(kEur, {});
  SimulatedAcquirer acquirer;
  acquirer.decline_always(card("stolen"), "05");
  MemoryDenyList deny;
  const std::vector<CardToken> first{card("good"), card("stolen")};
  CHECK(*ledger.verify_new_tokens(first, acquirer, deny, kMar4Noon) == 2);
  CHECK(deny.contains(card("stolen")));
  CHECK_FALSE(deny.contains(card("good")));
  CHECK(*ledger.verify_new_tokens(first, acquirer, deny, kMar4Noon) == 0);  // already verified
  CHECK(acquirer.requests() == 2);
}

TEST_CASE("an unreachable acquirer leaves charges due without counting an attempt", "[payments]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a");
  PaymentsLedger ledger(kEur, {});
  SimulatedAcquirer acquirer;
  MemoryDenyList deny;
  ledger.record(price(p, t.all()));
  acquirer.set_unavailable(true);
  CHECK(ledger.submit_due(acquirer, deny, kMar3 + 1, kMar4Noon).acquirer_errors == 1);
  CHECK(ledger.charges()[0].attempts == 0);
  CHECK_FALSE(deny.contains(card("a")));
  acquirer.set_unavailable(false);
  CHECK(ledger.submit_due(acquirer, deny, kMar3 + 1, kMar4Noon + kHourMs).approved == 1);
}

TEST_CASE("the acquirer's settlement file is matched to approved charges and refunds", "[payments][settlement]") {
  const FarePolicy p = load(base_feed());
  Taps t(p);
  for (const char* who : {"a", "b", "c", "d"}) t.bus(who, "2026-03-03T08:00:00+01:00", "bus-a");
  PaymentsLedger ledger(kEur, {});
  SimulatedAcquirer acquirer;
  acquirer.decline_always(card("c"));
  MemoryDenyList deny;
  ledger.record(price(p, t.all()));
  auto ref_of = [&](const char* who) {
    for (const auto& ch : ledger.charges())
      if (ch.token == card(who)) return ch.reference;
    return std::string();
  };
  acquirer.withhold_from_settlement(ref_of("b"));  // approved, but missing from the file
  ledger.submit_due(acquirer, deny, kMar3 + 1, kMar4Noon);
  auto records = acquirer.settle();
  REQUIRE(records.size() == 2);  // a and d; c was declined, b withheld
  for (auto& r : records)
    if (r.reference == ref_of("d")) r.amount += 1;  // the acquirer settled a different amount
  records.push_back(SettlementRecord{"CHG-999", "SIM999", AuthKind::kCharge, 100, kEur});
  const auto report = ledger.match_settlement(records);
  CHECK(report.matched == std::vector<std::string>{ref_of("a")});
  CHECK(report.amount_mismatches == std::vector<std::string>{ref_of("d")});
  CHECK(report.unknown_references == std::vector<std::string>{"CHG-999"});
  CHECK(report.unsettled == std::vector<std::string>{ref_of("b"), ref_of("d")});
  const std::string csv = SimulatedAcquirer::settlement_csv({records[0]});
  CHECK(csv == "reference,authorization_id,kind,amount,currency\n" + records[0].reference + "," +
                   records[0].authorization_id + ",charge,150,EUR\n");
}
