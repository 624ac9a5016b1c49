#pragma once
// The back office's fare run (docs/payments.md, "Fare run"): reads the tap store, prices every
// card and service day, and moves the persisted payments ledger (DATA_DIR/payments.db) one
// step:
//   1. account verification of every card token not verified before;
//   2. the priced card-days recorded (idempotent: a day priced the same again changes nothing;
//      a day priced differently after late taps becomes an adjustment or refund);
//   3. what is due submitted to the acquirer (aggregates whose travel period is over,
//      adjustments, refunds, debt resubmissions);
//   4. declines and approvals applied to the deny list validators receive (DATA_DIR/pushes.db):
//      one new deny-list version per run when anything changed;
//   5. the acquirer's settlement matched, and the whole reconciled to the cent.
// The ledger is read and written in one SQLite transaction (LedgerStore), so a run that dies
// leaves the previous state and a repeated run changes nothing. The deny list is written
// before the ledger commits: a run that dies in between leaves the token listed and the next
// run declines (and lists) it again, so no decline is ever lost.
//
// Safe while the daemon ingests: the tap store is only read, and the ledger and push store are
// SQLite WAL files whose writers take the write lock (BEGIN IMMEDIATE, busy timeout).

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "backoffice/billing/concession_tally.h"
#include "backoffice/fares/entitlement_registry.h"
#include "backoffice/fares/fare_policy.h"
#include "backoffice/payments/payments_ledger.h"
#include "backoffice/payments/simulated_acquirer.h"
#include "common/error.h"

namespace faregate::billing {

// How the simulated acquirer decides (the only acquirer so far). Spec:
//   simulated[:RULE[,RULE...]]   RULE = decline-iin=DIGITS | decline-token=HEX[:N]
// decline-iin: the simulated issuer of cards whose PAN starts with those six digits declines
// every verification and charge (the card data is opened from the sealed box in the tap
// record, which needs the sealing private key). decline-token=HEX: every request for that card
// token is declined; decline-token=HEX:N: its first N requests (verifications, charges,
// resubmissions) are declined and the later ones approved, counted over the acquirer's life
// (one fare-run command, or the whole life of a daemon that schedules fare runs).
struct AcquirerRules {
  std::vector<std::string> decline_iins;
  std::vector<fares::CardToken> decline_tokens;
  std::vector<std::pair<fares::CardToken, int>> decline_token_attempts;  // (token, N >= 1)
};
Result<AcquirerRules> parse_acquirer_spec(std::string_view spec);
// Sets `rules` on `acquirer` (the decline-iin rules need cards identified, which run_fare_run
// does from the sealed card data).
void configure_acquirer(payments::SimulatedAcquirer& acquirer, const AcquirerRules& rules);

struct FareRunOptions {
  std::filesystem::path data_dir;
  std::string store_spec;  // empty: sqlite:DATA_DIR/taps.db
  std::int32_t service_day_start_s = 4 * 3600 + 30 * 60;
  payments::PaymentsOptions payments;
  AcquirerRules acquirer;
  // When set, the run asks this acquirer (configured by the caller, who keeps it between runs)
  // instead of a new one built from `acquirer`; `acquirer.decline_iins` still decides whether
  // cards are identified. Requires: outlives the run.
  payments::SimulatedAcquirer* acquirer_instance = nullptr;
  // Concessions applied to every tap of their cards (null: none). Requires: outlives the run.
  const fares::EntitlementRegistry* entitlements = nullptr;
  // The back office's sealing private key (PEM). Empty: DATA_DIR/sealing_private.pem. Read only
  // when a decline-iin rule needs card data.
  std::filesystem::path sealing_key;
  std::int64_t now_ms = 0;  // UTC ms: decides which service day is "today"
  unsigned threads = 2;
};

struct FareRunSummary {
  std::string currency;
  std::int32_t today = 0;  // service day of now_ms
  std::uint64_t ledger_runs = 0;  // fare runs committed, this one included
  std::uint64_t taps_received = 0, taps_priced = 0, taps_denied = 0, legs = 0, orphan_taps = 0;
  std::uint64_t card_days = 0, capped_card_days = 0;
  std::int64_t revenue = 0, transfer_discounts = 0, cap_discounts = 0;
  // Card-days charged a concession category's own fare, per category (tally_concession_days).
  std::vector<ConcessionDays> concessions;
  std::size_t verifications = 0, verifications_declined = 0, cards_identified = 0;
  payments::RecordOutcome recorded;
  payments::SubmitOutcome submitted;
  std::int64_t approved_amount = 0, refunded_amount = 0, outstanding_debt = 0;
  std::size_t settled_now = 0, unsettled = 0;
  std::uint64_t deny_list_version = 0;
  std::size_t deny_list_size = 0, deny_list_added = 0, deny_list_removed = 0;
  bool balanced = false;
  std::vector<std::string> discrepancies;  // "check where: detail", the first 20
};

// Runs one fare run against DATA_DIR (see above). Errors: the store, ledger or push store
// cannot be read or written; the ledger is in another currency than `policy`; a decline-iin
// rule without a readable sealing key. Nothing is committed on error.
Result<FareRunSummary> run_fare_run(const fares::FarePolicy& policy, const FareRunOptions& options);

nlohmann::ordered_json to_json(const FareRunSummary& summary);
// A few human lines (the demo prints them).
std::string format_summary(const FareRunSummary& summary);

struct PayDebtOutcome {
  std::int64_t paid = 0;         // minor units of debt closed
  std::size_t charges = 0;       // charges closed
  bool lifted = false;           // the token left the deny list
  std::uint64_t deny_list_version = 0;
  std::string currency;
};
// The rider paid their debt through another channel (customer service, web): every unpaid
// charge of `token` is closed and the token leaves the deny list (one new version). kNotFound
// when the ledger holds nothing yet.
Result<PayDebtOutcome> pay_debt(const std::filesystem::path& data_dir, const fares::CardToken& token);

}  // namespace faregate::billing
