#include "backoffice/payments/payments_ledger.h"

#include <algorithm>
#include <unordered_map>

namespace faregate::payments {

const char* to_string(ChargeKind kind) {
  switch (kind) {
    case ChargeKind::kCharge: return "charge";
    case ChargeKind::kAdjustment: return "adjustment";
    case ChargeKind::kRefund: return "refund";
  }
  return "unknown";
}

const char* to_string(ChargeState state) {
  switch (state) {
    case ChargeState::kOpen: return "open";
    case ChargeState::kApproved: return "approved";
    case ChargeState::kDeclined: return "declined";
    case ChargeState::kOutstanding: return "outstanding_debt";
    case ChargeState::kPaidByRider: return "paid_by_rider";
    case ChargeState::kCancelled: return "cancelled";
  }
  return "unknown";
}

PaymentsLedger::PaymentsLedger(CurrencyCode currency, PaymentsOptions options)
    : currency_(currency), options_(options) {
  options_.travel_period_days = std::clamp(options_.travel_period_days, 1, 14);
  options_.max_resubmissions = std::max(0, options_.max_resubmissions);
}

namespace {

// The number in "CHG-12" / "VER-3"; 0 when there is none.
std::uint64_t reference_number(const std::string& reference) {
  const auto dash = reference.rfind('-');
  if (dash == std::string::npos || dash + 1 >= reference.size()) return 0;
  std::uint64_t n = 0;
  for (std::size_t i = dash + 1; i < reference.size(); ++i) {
    const char c = reference[i];
    if (c < '0' || c > '9' || n > UINT64_MAX / 10 - 9) return 0;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

}  // namespace

Result<PaymentsLedger> PaymentsLedger::restore(const LedgerSnapshot& snapshot, PaymentsOptions options) {
  if (snapshot.currency.empty()) return make_error(ErrorCode::kCorrupt, "ledger snapshot without a currency");
  PaymentsLedger ledger(snapshot.currency, options);
  std::unordered_set<std::string> references;
  for (const auto& c : snapshot.charges) {
    const auto where = "charge " + c.reference + ": ";
    if (c.reference.empty() || !references.insert(c.reference).second) {
      return make_error(ErrorCode::kCorrupt, "ledger snapshot: empty or repeated charge reference '" + c.reference + "'");
    }
    if (reference_number(c.reference) == 0 || reference_number(c.reference) >= snapshot.next_reference) {
      return make_error(ErrorCode::kCorrupt, where + "reference not below the reference counter " +
                                                 std::to_string(snapshot.next_reference));
    }
    if (c.token.size() == 0) return make_error(ErrorCode::kCorrupt, where + "no card token");
    if (c.amount < 0 || c.first_day > c.last_day || c.attempts < 0) {
      return make_error(ErrorCode::kCorrupt, where + "negative amount or attempts, or days out of order");
    }
    // Only a cancelled charge, or an aggregate still collecting, may be at zero.
    if (c.amount == 0 && c.state != ChargeState::kCancelled && !(c.state == ChargeState::kOpen && c.kind == ChargeKind::kCharge)) {
      return make_error(ErrorCode::kCorrupt, where + "zero amount in state " + to_string(c.state));
    }
  }
  ledger.charges_ = snapshot.charges;
  for (std::size_t i = 0; i < ledger.charges_.size(); ++i) ledger.charges_by_token_[ledger.charges_[i].token].push_back(i);
  for (const auto& d : snapshot.days) {
    if (d.token.size() == 0) return make_error(ErrorCode::kCorrupt, "ledger snapshot: a card-day without a card token");
    if (d.charge < -1 || d.charge >= static_cast<std::int64_t>(snapshot.charges.size())) {
      return make_error(ErrorCode::kCorrupt, "ledger snapshot: card-day " + std::to_string(d.service_day) +
                                                 " of " + d.token.hex() + " names charge " + std::to_string(d.charge) +
                                                 " of " + std::to_string(snapshot.charges.size()));
    }
    const std::size_t charge = d.charge < 0 ? SIZE_MAX : static_cast<std::size_t>(d.charge);
    if (!ledger.days_.emplace(std::make_pair(d.token, d.service_day), DayEntry{d.total, charge}).second) {
      return make_error(ErrorCode::kCorrupt, "ledger snapshot: card-day " + std::to_string(d.service_day) + " of " +
                                                 d.token.hex() + " listed twice");
    }
  }
  for (const auto& t : snapshot.verified) {
    if (t.size() == 0) return make_error(ErrorCode::kCorrupt, "ledger snapshot: a verified token that is empty");
    ledger.verified_.insert(t);
  }
  if (snapshot.next_reference == 0) return make_error(ErrorCode::kCorrupt, "ledger snapshot: reference counter 0");
  ledger.next_reference_ = snapshot.next_reference;
  return ledger;
}

LedgerSnapshot PaymentsLedger::snapshot() const {
  LedgerSnapshot s;
  s.currency = currency_;
  s.charges = charges_;
  s.days.reserve(days_.size());
  for (const auto& [key, entry] : days_) {
    s.days.push_back({key.first, key.second, entry.total,
                      entry.charge == SIZE_MAX ? -1 : static_cast<std::int64_t>(entry.charge)});
  }
  s.verified.assign(verified_.begin(), verified_.end());
  std::sort(s.verified.begin(), s.verified.end());
  s.next_reference = next_reference_;
  return s;
}

std::string PaymentsLedger::next_reference(ChargeKind kind) {
  const char* prefix = kind == ChargeKind::kCharge ? "CHG-" : kind == ChargeKind::kAdjustment ? "ADJ-" : "REF-";
  return prefix + std::to_string(next_reference_++);
}

Result<std::size_t> PaymentsLedger::verify_new_tokens(std::span<const CardToken> tokens, Acquirer& acquirer,
                                                      DenyList& deny, std::int64_t now_ms) {
  std::size_t made = 0;
  for (const auto& token : tokens) {
    if (verified_.contains(token)) continue;
    AuthRequest request{AuthKind::kVerification, "VER-" + std::to_string(next_reference_++), token, 0, currency_, now_ms};
    auto response = acquirer.authorize(request);
    if (!response) return with_context(response.error(), "account verification");
    ++made;
    verified_.insert(token);
    // A declined verification: the card cannot pay; validators refuse it from now on.
    if (!response->approved) deny.add(token, "verification_declined");
  }
  return made;
}

std::size_t PaymentsLedger::add_charge(Charge charge) {
  const std::size_t index = charges_.size();
  charges_by_token_[charge.token].push_back(index);
  charges_.push_back(std::move(charge));
  return index;
}

std::size_t PaymentsLedger::open_aggregate(const CardToken& token, std::int32_t day) {
  // The newest matching aggregate of the token wins.
  if (auto it = charges_by_token_.find(token); it != charges_by_token_.end()) {
    for (auto i = it->second.rbegin(); i != it->second.rend(); ++i) {
      const Charge& c = charges_[*i];
      if (c.kind == ChargeKind::kCharge && c.state == ChargeState::kOpen && day >= c.first_day &&
          day < c.first_day + options_.travel_period_days) {
        return *i;
      }
    }
  }
  Charge c;
  c.reference = next_reference(ChargeKind::kCharge);
  c.kind = ChargeKind::kCharge;
  c.token = token;
  c.first_day = c.last_day = day;
  return add_charge(std::move(c));
}

Result<RecordOutcome> PaymentsLedger::record(const fares::PricingResult& result) {
  if (!result.days.empty() && !(result.currency == currency_)) {
    return make_error(ErrorCode::kInvalidArgument, "priced in " + std::string(result.currency.str()) +
                                                       ", the ledger charges in " + std::string(currency_.str()));
  }
  RecordOutcome out;
  for (const auto& d : result.days) {
    const auto key = std::make_pair(d.card, d.service_day);
    // One search per day: the position found is where a new day goes.
    auto it = days_.lower_bound(key);
    if (it == days_.end() || !(it->first == key)) {
      ++out.new_days;
      DayEntry entry{d.total, SIZE_MAX};
      if (d.total > 0) {
        entry.charge = open_aggregate(d.card, d.service_day);
        Charge& c = charges_[entry.charge];
        c.amount += d.total;
        c.first_day = std::min(c.first_day, d.service_day);
        c.last_day = std::max(c.last_day, d.service_day);
      }
      days_.emplace_hint(it, key, entry);
      continue;
    }
    DayEntry& entry = it->second;
    if (entry.total == d.total) {
      ++out.unchanged_days;
      continue;
    }
    ++out.changed_days;
    const std::int64_t delta = d.total - entry.total;
    entry.total = d.total;
    if (entry.charge != SIZE_MAX &&
        (charges_[entry.charge].state == ChargeState::kOpen || is_debt(charges_[entry.charge].state))) {
      // Not collected yet (still aggregating, or unpaid debt): change what will be asked for.
      Charge& c = charges_[entry.charge];
      c.amount += delta;
      if (c.amount <= 0) {
        c.amount = 0;
        c.state = ChargeState::kCancelled;
      }
      continue;
    }
    if (entry.charge == SIZE_MAX && delta > 0) {
      // A day that cost nothing so far now costs something: it joins the open aggregate.
      entry.charge = open_aggregate(d.card, d.service_day);
      Charge& c = charges_[entry.charge];
      c.amount += delta;
      c.first_day = std::min(c.first_day, d.service_day);
      c.last_day = std::max(c.last_day, d.service_day);
      continue;
    }
    // The day was already collected: the difference is an extra charge or a refund.
    Charge adj;
    adj.kind = delta > 0 ? ChargeKind::kAdjustment : ChargeKind::kRefund;
    adj.reference = next_reference(adj.kind);
    adj.token = d.card;
    adj.first_day = adj.last_day = d.service_day;
    adj.amount = delta > 0 ? delta : -delta;
    add_charge(std::move(adj));
    ++out.adjustments;
  }
  return out;
}

bool PaymentsLedger::has_debt(const CardToken& token) const {
  auto it = charges_by_token_.find(token);
  if (it == charges_by_token_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(), [&](std::size_t i) { return is_debt(charges_[i].state); });
}

void PaymentsLedger::send(Charge& c, Acquirer& acquirer, DenyList& deny, std::int64_t now_ms, SubmitOutcome& out) {
  const AuthKind kind = c.kind == ChargeKind::kRefund ? AuthKind::kRefund : AuthKind::kCharge;
  auto response = acquirer.authorize(AuthRequest{kind, c.reference, c.token, c.amount, currency_, now_ms});
  if (!response) {
    ++out.acquirer_errors;  // not asked: stays due, no attempt counted
    return;
  }
  ++c.attempts;
  c.response_code = response->response_code;
  if (response->approved) {
    c.state = ChargeState::kApproved;
    c.authorization_id = response->authorization_id;
    ++out.approved;
    // Paid: the card may travel again (sync carries the removal to validators).
    if (!has_debt(c.token)) deny.remove(c.token);
    return;
  }
  ++out.declined;
  if (c.state != ChargeState::kDeclined) c.first_decline_ms = now_ms;
  c.state = ChargeState::kDeclined;
  c.next_attempt_ms = now_ms + options_.resubmission_interval_ms;
  deny.add(c.token, "charge_declined");
  const std::int32_t resubmissions = c.attempts - 1;
  if (resubmissions >= options_.max_resubmissions ||
      c.next_attempt_ms > c.first_decline_ms + options_.recovery_window_ms) {
    // The schemes bound resubmission: the debt stays, only the rider can settle it now.
    c.state = ChargeState::kOutstanding;
    ++out.exhausted;
  }
}

SubmitOutcome PaymentsLedger::submit_due(Acquirer& acquirer, DenyList& deny, std::int32_t today, std::int64_t now_ms) {
  SubmitOutcome out;
  for (std::size_t i = 0; i < charges_.size(); ++i) {
    Charge& c = charges_[i];
    if (c.state == ChargeState::kOpen) {
      if (c.amount <= 0) continue;
      const bool period_over = today >= c.first_day + options_.travel_period_days;
      const bool limit_reached = options_.spend_limit > 0 && c.amount >= options_.spend_limit;
      if (c.kind == ChargeKind::kCharge && !period_over && !limit_reached) continue;
      send(c, acquirer, deny, now_ms, out);
    } else if (c.state == ChargeState::kDeclined && now_ms >= c.next_attempt_ms) {
      ++out.resubmitted;
      send(c, acquirer, deny, now_ms, out);
    }
  }
  return out;
}

void PaymentsLedger::rider_paid(const CardToken& token, DenyList& deny) {
  if (auto it = charges_by_token_.find(token); it != charges_by_token_.end()) {
    for (std::size_t i : it->second) {
      if (is_debt(charges_[i].state)) charges_[i].state = ChargeState::kPaidByRider;
    }
  }
  deny.remove(token);
}

SettlementReport PaymentsLedger::match_settlement(std::span<const SettlementRecord> records) {
  SettlementReport report;
  std::unordered_map<std::string, std::size_t> by_reference;
  for (std::size_t i = 0; i < charges_.size(); ++i) by_reference.emplace(charges_[i].reference, i);
  for (const auto& r : records) {
    auto it = by_reference.find(r.reference);
    if (it == by_reference.end()) {
      report.unknown_references.push_back(r.reference);
      continue;
    }
    Charge& c = charges_[it->second];
    const bool refund = c.kind == ChargeKind::kRefund;
    if (c.state != ChargeState::kApproved || c.amount != r.amount || refund != (r.kind == AuthKind::kRefund) ||
        c.authorization_id != r.authorization_id) {
      report.amount_mismatches.push_back(r.reference);
      continue;
    }
    c.settled = true;
    report.matched.push_back(r.reference);
  }
  for (const auto& c : charges_) {
    if (c.state == ChargeState::kApproved && !c.settled) report.unsettled.push_back(c.reference);
  }
  return report;
}

std::int64_t PaymentsLedger::outstanding_debt(const CardToken& token) const {
  std::int64_t debt = 0;
  auto it = charges_by_token_.find(token);
  if (it == charges_by_token_.end()) return 0;
  for (std::size_t i : it->second)
    if (is_debt(charges_[i].state)) debt += charges_[i].amount;
  return debt;
}

std::optional<std::int64_t> PaymentsLedger::day_total(const CardToken& token, std::int32_t service_day) const {
  auto it = days_.find(std::make_pair(token, service_day));
  if (it == days_.end()) return std::nullopt;
  return it->second.total;
}

}  // namespace faregate::payments
