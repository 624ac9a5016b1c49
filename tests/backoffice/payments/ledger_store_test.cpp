// LedgerStore: the payments ledger survives restarts; a fare run is one transaction, so a run
// that dies or is abandoned leaves the previous state; repeating a run changes nothing; late
// taps after a restart become an adjustment, not a second charge.
#include "backoffice/payments/ledger_store.h"

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/backoffice/fares/fares_test_support.h"
#include "tests/support/temp_dir.h"

using namespace faregate;
using namespace faregate::fares;
using namespace faregate::fares::testing;
using namespace faregate::payments;

namespace {

const CurrencyCode kEur = *CurrencyCode::parse("EUR");
const std::int32_t kMar3 = days_from_civil(2026, 3, 3);
const std::int64_t kMar4Noon = at("2026-03-04T12:00:00+01:00");

// One fare run as the back office makes it: load, record, submit, save, commit.
struct RunResult {
  RecordOutcome recorded;
  SubmitOutcome submitted;
};
RunResult fare_run(const std::filesystem::path& path, const PricingResult& pricing, SimulatedAcquirer& acquirer,
                   MemoryDenyList& deny, std::int32_t today, std::int64_t now) {
  auto store = LedgerStore::open(path);
  REQUIRE(store);
  auto run = (*store)->begin_run();
  REQUIRE(run);
  auto ledger = run->snapshot ? PaymentsLedger::restore(*run->snapshot, {}) : PaymentsLedger(kEur, {});
  REQUIRE(ledger);
  std::vector<CardToken> tokens;
  for (const auto& d : pricing.days) tokens.push_back(d.card);
  REQUIRE(ledger->verify_new_tokens(tokens, acquirer, deny, now));
  RunResult out;
  out.recorded = *ledger->record(pricing);
  out.submitted = ledger->submit_due(acquirer, deny, today, now);
  REQUIRE((*store)->save(ledger->snapshot()));
  REQUIRE((*store)->commit());
  return out;
}

LedgerSnapshot committed(const std::filesystem::path& path) {
  auto store = LedgerStore::open(path);
  REQUIRE(store);
  auto snapshot = (*store)->read();
  REQUIRE(snapshot);
  REQUIRE(snapshot->has_value());
  return **snapshot;
}

bool same_charges(const std::vector<Charge>& a, const std::vector<Charge>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const Charge &x = a[i], &y = b[i];
    if (x.reference != y.reference || x.kind != y.kind || !(x.token == y.token) || x.first_day != y.first_day ||
        x.last_day != y.last_day || x.amount != y.amount || x.state != y.state || x.attempts != y.attempts ||
        x.first_decline_ms != y.first_decline_ms || x.next_attempt_ms != y.next_attempt_ms ||
        x.authorization_id != y.authorization_id || x.response_code != y.response_code || x.settled != y.settled) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("a ledger saved and loaded again holds the same charges, days, verified tokens and counter", "[payments][ledger-store]") {
  faregate::testing::TempDir dir;
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a").bus("b", "2026-03-03T09:00:00+01:00", "bus-a");
  SimulatedAcquirer acquirer;
  acquirer.decline_next(card("b"), 1);  // b's verification is declined, its charge approved
  MemoryDenyList deny;
  fare_run(dir / "payments.db", price(p, t.all()), acquirer, deny, kMar3 + 1, kMar4Noon);

  auto store = LedgerStore::open(dir / "payments.db");
  REQUIRE(store);
  auto run = (*store)->begin_run();
  REQUIRE(run);
  REQUIRE(run->snapshot);
  CHECK(run->previous_runs == 1);
  auto restored = PaymentsLedger::restore(*run->snapshot, {});
  REQUIRE(restored);
  const LedgerSnapshot again = restored->snapshot();
  CHECK(same_charges(again.charges, run->snapshot->charges));
  CHECK(again.next_reference == run->snapshot->next_reference);
  CHECK(again.verified.size() == 2);
  CHECK(restored->verified(card("a")));
  CHECK(restored->verified(card("b")));
  CHECK(*restored->day_total(card("a"), kMar3) == 150);
  REQUIRE(restored->charges().size() == 2);
  CHECK(restored->charges()[0].state == ChargeState::kApproved);
  CHECK(restored->charges()[0].authorization_id.starts_with("SIM"));
  CHECK(again.currency == kEur);
  (*store)->abort_run();
}

TEST_CASE("an abandoned fare run leaves the previous state", "[payments][ledger-store][fault]") {
  faregate::testing::TempDir dir;
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a");
  SimulatedAcquirer acquirer;
  MemoryDenyList deny;
  fare_run(dir / "payments.db", price(p, t.all()), acquirer, deny, kMar3, kMar4Noon - kDayMs);
  const LedgerSnapshot before = committed(dir / "payments.db");
  REQUIRE(before.charges.size() == 1);
  REQUIRE(before.charges[0].state == ChargeState::kOpen);

  {
    auto store = LedgerStore::open(dir / "payments.db");
    REQUIRE(store);
    auto run = (*store)->begin_run();
    REQUIRE(run);
    auto ledger = PaymentsLedger::restore(*run->snapshot, {});
    ledger->submit_due(acquirer, deny, kMar3 + 1, kMar4Noon);
    REQUIRE(ledger->charges()[0].state == ChargeState::kApproved);
    REQUIRE((*store)->save(ledger->snapshot()));
    // Closed without commit().
  }
  const LedgerSnapshot after = committed(dir / "payments.db");
  CHECK(same_charges(after.charges, before.charges));
  CHECK(after.next_reference == before.next_reference);
}

TEST_CASE("a fare run killed after writing and before committing leaves the previous state", "[payments][ledger-store][fault]") {
  faregate::testing::TempDir dir;
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a");
  SimulatedAcquirer acquirer;
  MemoryDenyList deny;
  fare_run(dir / "payments.db", price(p, t.all()), acquirer, deny, kMar3, kMar4Noon - kDayMs);
  const LedgerSnapshot before = committed(dir / "payments.db");

  // A child process makes the next run up to its last write and is killed there: the OS
  // drops its connection with the transaction open, as in a power cut of the process.
  t.bus("a", "2026-03-03T19:00:00+01:00", "bus-b");
  const PricingResult more = price(p, t.all());
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto store = LedgerStore::open(dir / "payments.db");
    if (!store) ::_exit(2);
    auto run = (*store)->begin_run();
    if (!run || !run->snapshot) ::_exit(3);
    auto ledger = PaymentsLedger::restore(*run->snapshot, {});
    if (!ledger || !ledger->record(more)) ::_exit(4);
    SimulatedAcquirer child_acquirer;
    MemoryDenyList child_deny;
    ledger->submit_due(child_acquirer, child_deny, kMar3 + 1, kMar4Noon);
    if (!(*store)->save(ledger->snapshot())) ::_exit(5);
    ::kill(::getpid(), SIGKILL);
    ::_exit(6);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);

  const LedgerSnapshot after = committed(dir / "payments.db");
  CHECK(same_charges(after.charges, before.charges));
  REQUIRE(after.charges.size() == 1);
  CHECK(after.charges[0].amount == 150);
  CHECK(after.charges[0].state == ChargeState::kOpen);
  // And the next run, done properly, finds the day as the killed run would have left it.
  const auto run = fare_run(dir / "payments.db", more, acquirer, deny, kMar3 + 1, kMar4Noon);
  CHECK(run.recorded.changed_days == 1);
  CHECK(run.submitted.approved == 1);
  CHECK(committed(dir / "payments.db").charges[0].amount == 300);
}

TEST_CASE("a fare run repeated over the same taps changes nothing", "[payments][ledger-store]") {
  faregate::testing::TempDir dir;
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a").entry("b", "2026-03-03T08:00:00+01:00", "central-gate");
  const PricingResult pricing = price(p, t.all());
  SimulatedAcquirer acquirer;
  MemoryDenyList deny;
  const auto first = fare_run(dir / "payments.db", pricing, acquirer, deny, kMar3 + 1, kMar4Noon);
  CHECK(first.recorded.new_days == 2);
  CHECK(first.submitted.approved == 2);
  const LedgerSnapshot once = committed(dir / "payments.db");
  const std::size_t requests = acquirer.requests();

  const auto second = fare_run(dir / "payments.db", pricing, acquirer, deny, kMar3 + 1, kMar4Noon + kHourMs);
  CHECK(second.recorded.new_days == 0);
  CHECK(second.recorded.unchanged_days == 2);
  CHECK(second.recorded.adjustments == 0);
  CHECK(second.submitted.approved == 0);
  CHECK(acquirer.requests() == requests);  // no verification or charge asked twice
  const LedgerSnapshot twice = committed(dir / "payments.db");
  CHECK(same_charges(twice.charges, once.charges));
  CHECK(twice.next_reference == once.next_reference);
  CHECK(twice.days.size() == once.days.size());
}

TEST_CASE("late taps after a restart make an adjustment, not a second charge", "[payments][ledger-store][late-taps]") {
  faregate::testing::TempDir dir;
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.entry("a", "2026-03-03T08:00:00+01:00", "central-gate");  // the exit is on an offline validator
  SimulatedAcquirer acquirer;
  MemoryDenyList deny;
  fare_run(dir / "payments.db", price(p, t.all()), acquirer, deny, kMar3 + 1, kMar4Noon);
  REQUIRE(committed(dir / "payments.db").charges.at(0).amount == 350);  // the maximum fare, charged

  // The back office restarts (a new store object, a new acquirer connection); days later the
  // exit tap arrives: the journey was central -> north (2.00), so 1.50 goes back.
  t.exit("a", "2026-03-03T08:15:00+01:00", "north-gate");
  SimulatedAcquirer after_restart;
  const auto late = fare_run(dir / "payments.db", price(p, t.all()), after_restart, deny, kMar3 + 4, kMar4Noon + 3 * kDayMs);
  CHECK(late.recorded.changed_days == 1);
  CHECK(late.recorded.adjustments == 1);
  CHECK(late.submitted.approved == 1);
  CHECK(after_restart.requests() == 1);  // the refund only: no second verification, no second charge
  const LedgerSnapshot s = committed(dir / "payments.db");
  REQUIRE(s.charges.size() == 2);
  CHECK(s.charges[0].kind == ChargeKind::kCharge);
  CHECK(s.charges[0].amount == 350);
  CHECK(s.charges[1].kind == ChargeKind::kRefund);
  CHECK(s.charges[1].amount == 150);
  CHECK(s.charges[1].state == ChargeState::kApproved);
  CHECK(s.days.at(0).total == 200);

  // A bus ride the same day arrives later still, after another restart: an extra charge.
  t.bus("a", "2026-03-03T19:00:00+01:00", "bus-a");
  SimulatedAcquirer third;
  const auto later = fare_run(dir / "payments.db", price(p, t.all()), third, deny, kMar3 + 6, kMar4Noon + 5 * kDayMs);
  CHECK(later.recorded.adjustments == 1);
  const LedgerSnapshot s3 = committed(dir / "payments.db");
  REQUIRE(s3.charges.size() == 3);
  CHECK(s3.charges[2].kind == ChargeKind::kAdjustment);
  CHECK(s3.charges[2].amount == 150);
  CHECK(std::count_if(s3.charges.begin(), s3.charges.end(), [](const Charge& c) { return c.kind == ChargeKind::kCharge; }) == 1);
}

TEST_CASE("a ledger file with rows no ledger writes is refused, not trusted", "[payments][ledger-store][fault]") {
  faregate::testing::TempDir dir;
  const FarePolicy p = load(base_feed());
  Taps t(p);
  t.bus("a", "2026-03-03T08:00:00+01:00", "bus-a");
  SimulatedAcquirer acquirer;
  MemoryDenyList deny;
  fare_run(dir / "payments.db", price(p, t.all()), acquirer, deny, kMar3 + 1, kMar4Noon);

  const auto corrupt = [&](const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir / "payments.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  };
  SECTION("an unknown charge state") { corrupt("UPDATE charges SET state = 42"); }
  SECTION("a card-day naming a charge that does not exist") { corrupt("UPDATE card_days SET charge_idx = 7"); }
  SECTION("a reference counter behind the references in use") { corrupt("UPDATE meta SET next_reference = 1"); }
  SECTION("another schema version") { corrupt("UPDATE meta SET schema_version = 9"); }
  auto store = LedgerStore::open(dir / "payments.db");
  REQUIRE(store);
  auto run = (*store)->begin_run();
  if (run) {
    REQUIRE(run->snapshot);
    auto ledger = PaymentsLedger::restore(*run->snapshot, {});
    REQUIRE_FALSE(ledger);
    CHECK(ledger.error().code == ErrorCode::kCorrupt);
  } else {
    CHECK(run.error().code == ErrorCode::kCorrupt);
  }
}

TEST_CASE("another SQLite file is not taken for a ledger", "[payments][ledger-store]") {
  faregate::testing::TempDir dir;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir / "other.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto store = LedgerStore::open(dir / "other.db");
  REQUIRE_FALSE(store);
  CHECK(store.error().code == ErrorCode::kCorrupt);
}
