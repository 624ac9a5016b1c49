#include "backoffice/payments/simulated_acquirer.h"

#include <utility>

namespace faregate::payments {

void SimulatedAcquirer::decline_always(const CardToken& token, std::string code) {
  rules_[token] = Rule{true, 0, std::move(code)};
}

void SimulatedAcquirer::decline_next(const CardToken& token, int count, std::string code) {
  rules_[token] = Rule{false, count, std::move(code)};
}

void SimulatedAcquirer::allow(const CardToken& token) { rules_.erase(token); }

Result<AuthResponse> SimulatedAcquirer::do_authorize(const AuthRequest& request) {
  if (unavailable_) return make_error(ErrorCode::kUnavailable, "simulated acquirer is unreachable");
  ++requests_;
  if (auto it = rules_.find(request.token); it != rules_.end() && request.kind != AuthKind::kRefund) {
    if (it->second.always) return AuthResponse{false, it->second.code, ""};
    if (it->second.remaining > 0) {
      --it->second.remaining;
      return AuthResponse{false, it->second.code, ""};
    }
  }
  if (request.kind == AuthKind::kCharge && amount_limit_ > 0 && request.amount > amount_limit_) {
    return AuthResponse{false, "61", ""};
  }
  AuthResponse approved{true, "00", "SIM" + std::to_string(next_id_++)};
  if (request.kind != AuthKind::kVerification && !withheld_.contains(request.reference)) {
    unsettled_.push_back({request.reference, approved.authorization_id, request.kind, request.amount, request.currency});
  }
  return approved;
}

std::vector<SettlementRecord> SimulatedAcquirer::settle() { return std::exchange(unsettled_, {}); }

std::string SimulatedAcquirer::settlement_csv(const std::vector<SettlementRecord>& records) {
  std::string out = "reference,authorization_id,kind,amount,currency\n";
  for (const auto& r : records) {
    out += r.reference + "," + r.authorization_id + "," + (r.kind == AuthKind::kRefund ? "refund" : "charge") + "," +
           std::to_string(r.amount) + "," + std::string(r.currency.str()) + "\n";
  }
  return out;
}

}  // namespace faregate::payments
