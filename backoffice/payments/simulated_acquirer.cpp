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

void SimulatedAcquirer::decline_issuer(std::string iin, std::string code) {
  declining_issuers_[std::move(iin)] = std::move(code);
}

void SimulatedAcquirer::learn_card(const CardToken& token, std::string_view pan) {
  if (pan.size() < 6) return;
  card_iins_[token] = std::string(pan.substr(0, 6));
}

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
  if (request.kind != AuthKind::kRefund) {
    if (auto card = card_iins_.find(request.token); card != card_iins_.end()) {
      if (auto issuer = declining_issuers_.find(card->second); issuer != declining_issuers_.end()) {
        return AuthResponse{false, issuer->second, ""};
      }
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
