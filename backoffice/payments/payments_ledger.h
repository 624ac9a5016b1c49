#pragma once
// PaymentsLedger: turns priced card-days (fares::PricingResult) into what the acquirer is asked
// for, following the card schemes' transit model (Visa MTT, Mastercard aggregated transit
// fares):
//
// - a token's first tap triggers a zero-amount account verification; a decline puts the token
//   on the deny list;
// - the card-days of a token are aggregated into one charge over at most travel_period_days
//   service days (schemes allow up to 14) or until spend_limit is reached, then authorized;
// - pricing the same card-day again (late taps) changes nothing when its total is the same; a
//   different total becomes an adjustment: an extra charge or a refund of the difference, never
//   a second full charge (or, while the charge is not yet submitted or is unpaid debt, a change
//   of that charge's amount);
// - a declined charge puts the token on the deny list and becomes debt: it is resubmitted once
//   per resubmission_interval, at most max_resubmissions times within recovery_window (Visa: six
//   within 14 days); an approval, or the rider paying the debt another way, takes the token off
//   the deny list at once;
// - the acquirer's settlement records are matched against approved charges and refunds.
//
// All state is in memory and every call takes the time explicitly. snapshot() and restore()
// give the whole state as plain data, which LedgerStore (ledger_store.h) keeps in SQLite
// between fare runs. Not thread-safe.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "backoffice/fares/fare_engine.h"
#include "backoffice/payments/acquirer.h"
#include "backoffice/payments/deny_list.h"
#include "backoffice/payments/simulated_acquirer.h"

namespace faregate::payments {

inline constexpr std::int64_t kHourMs = 3'600'000;
inline constexpr std::int64_t kDayMs = 24 * kHourMs;

struct PaymentsOptions {
  std::int32_t travel_period_days = 1;  // 1..14
  std::int64_t spend_limit = 0;         // minor units; 0: no limit
  std::int32_t max_resubmissions = 6;
  std::int64_t recovery_window_ms = 14 * kDayMs;
  std::int64_t resubmission_interval_ms = kDayMs;
};

enum class ChargeKind : std::uint8_t { kCharge, kAdjustment, kRefund };
enum class ChargeState : std::uint8_t {
  kOpen,         // aggregating (a charge) or waiting to be sent (an adjustment or refund)
  kApproved,     // authorized (or refunded)
  kDeclined,     // debt; will be resubmitted
  kOutstanding,  // debt; resubmissions exhausted, the rider must pay
  kPaidByRider,  // debt paid through another channel
  kCancelled,    // re-pricing brought it to zero before it was collected
};
const char* to_string(ChargeKind kind);
const char* to_string(ChargeState state);

struct Charge {
  std::string reference;  // "CHG-1", "ADJ-2", "REF-3": unique, in creation order
  ChargeKind kind = ChargeKind::kCharge;
  CardToken token;
  std::int32_t first_day = 0;  // service days covered (inclusive)
  std::int32_t last_day = 0;
  std::int64_t amount = 0;     // minor units, > 0 (a refund's amount is what goes back)
  ChargeState state = ChargeState::kOpen;
  std::int32_t attempts = 0;
  std::int64_t first_decline_ms = 0;
  std::int64_t next_attempt_ms = 0;
  std::string authorization_id;
  std::string response_code;
  bool settled = false;
};

struct RecordOutcome {
  std::size_t new_days = 0;
  std::size_t unchanged_days = 0;
  std::size_t changed_days = 0;
  std::size_t adjustments = 0;  // extra charges and refunds created
};

struct SubmitOutcome {
  std::size_t approved = 0;
  std::size_t declined = 0;
  std::size_t resubmitted = 0;
  std::size_t exhausted = 0;         // debts that reached the resubmission bound
  std::size_t acquirer_errors = 0;   // requests that could not be made (they stay due)
};

struct SettlementReport {
  std::vector<std::string> matched;
  std::vector<std::string> unknown_references;  // in the file, not in the ledger
  std::vector<std::string> amount_mismatches;   // in both, amounts or kinds differ
  std::vector<std::string> unsettled;           // approved in the ledger, not in any file yet
};

// The whole state of a ledger as plain data, for persistence (ledger_store.h).
struct LedgerDay {
  CardToken token;
  std::int32_t service_day = 0;
  std::int64_t total = 0;          // the day's total already taken into charges
  std::int64_t charge = -1;        // index into LedgerSnapshot::charges; -1: none (a free day)
};
struct LedgerSnapshot {
  CurrencyCode currency;
  std::vector<Charge> charges;     // in creation order (a charge's index never changes)
  std::vector<LedgerDay> days;
  std::vector<CardToken> verified;  // tokens whose account verification was made
  std::uint64_t next_reference = 1;
};

class PaymentsLedger {
 public:
  PaymentsLedger(CurrencyCode currency, PaymentsOptions options);

  // A ledger holding `snapshot` (as snapshot() gave it). Errors: kCorrupt when the snapshot is
  // not consistent (a day pointing past the charges, a charge without amount or token, a
  // reference counter behind the references in use): it came from disk, so it is checked.
  static Result<PaymentsLedger> restore(const LedgerSnapshot& snapshot, PaymentsOptions options);
  LedgerSnapshot snapshot() const;
  CurrencyCode currency() const { return currency_; }

  // Zero-amount verification of every token not verified before. Declined tokens are denied.
  // Returns the number of verifications made.
  Result<std::size_t> verify_new_tokens(std::span<const CardToken> tokens, Acquirer& acquirer, DenyList& deny,
                                        std::int64_t now_ms);

  // Records priced card-days (idempotent). Requires: result.currency is the ledger's currency.
  Result<RecordOutcome> record(const fares::PricingResult& result);

  // Sends what is due on service day `today`: aggregates whose travel period is over or that
  // reached the spend limit, adjustments and refunds, debt resubmissions whose time has come.
  SubmitOutcome submit_due(Acquirer& acquirer, DenyList& deny, std::int32_t today, std::int64_t now_ms);

  // The rider paid their debt another way: every unpaid charge of the token is closed and the
  // token leaves the deny list.
  void rider_paid(const CardToken& token, DenyList& deny);

  // Matches the acquirer's settlement records against approved charges and refunds.
  SettlementReport match_settlement(std::span<const SettlementRecord> records);

  const std::vector<Charge>& charges() const { return charges_; }
  std::int64_t outstanding_debt(const CardToken& token) const;
  // What the ledger holds for a card-day: the total already taken into charges.
  std::optional<std::int64_t> day_total(const CardToken& token, std::int32_t service_day) const;
  bool verified(const CardToken& token) const { return verified_.contains(token); }

 private:
  struct DayEntry {
    std::int64_t total = 0;
    std::size_t charge = SIZE_MAX;  // the aggregate this day went into
  };
  static bool is_debt(ChargeState s) { return s == ChargeState::kDeclined || s == ChargeState::kOutstanding; }
  std::size_t open_aggregate(const CardToken& token, std::int32_t day);
  std::string next_reference(ChargeKind kind);
  void send(Charge& c, Acquirer& acquirer, DenyList& deny, std::int64_t now_ms, SubmitOutcome& out);
  bool has_debt(const CardToken& token) const;
  // Appends a charge and indexes it under its token. Returns its index.
  std::size_t add_charge(Charge charge);

  CurrencyCode currency_;
  PaymentsOptions options_;
  std::vector<Charge> charges_;
  // Every charge's index under its token, ascending: what the per-token questions (the open
  // aggregate, debt) look at, so that a run stays linear in the number of charges.
  std::unordered_map<CardToken, std::vector<std::size_t>, fares::CardTokenHash> charges_by_token_;
  std::map<std::pair<CardToken, std::int32_t>, DayEntry> days_;
  std::unordered_set<CardToken, fares::CardTokenHash> verified_;
  std::uint64_t next_reference_ = 1;
};

}  // namespace faregate::payments
