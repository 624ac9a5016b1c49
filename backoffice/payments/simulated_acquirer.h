#pragma once
// SimulatedAcquirer: an in-process acquirer that approves or declines by rule, keeps every
// approval, and writes the settlement file an acquirer would send the next day. Used by the
// payments tests and the network simulator.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backoffice/payments/acquirer.h"

namespace faregate::payments {

struct SettlementRecord {
  std::string reference;
  std::string authorization_id;
  AuthKind kind = AuthKind::kCharge;  // kCharge or kRefund (verifications do not settle)
  std::int64_t amount = 0;
  CurrencyCode currency;
};

class SimulatedAcquirer final : public Acquirer {
 public:
  // Every request for this token is declined with `code` until allow() is called.
  void decline_always(const CardToken& token, std::string code = "05");
  // The next `count` requests for this token are declined (insufficient funds), then approved.
  void decline_next(const CardToken& token, int count, std::string code = "51");
  void allow(const CardToken& token);
  // The simulated issuer behind this IIN (the PAN's first six digits) declines every charge and
  // verification of its cards with `code` ("51", insufficient funds): such cards pass a gate
  // offline and are declined online. Requires: iin is six digits.
  void decline_issuer(std::string iin, std::string code = "51");
  // Tells the acquirer which card a token stands for, as a real acquirer learns it from the
  // card data of the authorization (the back office opens it from the sealed box). Only the
  // IIN is kept; the PAN is not stored.
  void learn_card(const CardToken& token, std::string_view pan);
  // Charges above this amount are declined ("61", exceeds withdrawal limit); 0: no limit.
  void set_amount_limit(std::int64_t amount) { amount_limit_ = amount; }
  // Simulates the acquirer being unreachable: authorize() fails with kUnavailable.
  void set_unavailable(bool unavailable) { unavailable_ = unavailable; }
  // Leaves an approved reference out of the settlement file (to test unsettled charges).
  void withhold_from_settlement(const std::string& reference) { withheld_[reference] = true; }

  // Approved charges and refunds not yet settled, as the settlement file lists them; marks
  // them settled.
  std::vector<SettlementRecord> settle();
  // The same records as CSV: reference,authorization_id,kind,amount,currency (amount in minor
  // units; kind charge|refund).
  static std::string settlement_csv(const std::vector<SettlementRecord>& records);

  std::size_t requests() const { return requests_; }

 private:
  Result<AuthResponse> do_authorize(const AuthRequest& request) override;

  struct Rule {
    bool always = false;
    int remaining = 0;
    std::string code;
  };
  std::unordered_map<CardToken, Rule, fares::CardTokenHash> rules_;
  std::map<std::string, std::string> declining_issuers_;  // IIN -> response code
  std::unordered_map<CardToken, std::string, fares::CardTokenHash> card_iins_;
  std::int64_t amount_limit_ = 0;
  bool unavailable_ = false;
  std::vector<SettlementRecord> unsettled_;
  std::map<std::string, bool> withheld_;
  std::uint64_t next_id_ = 1;
  std::size_t requests_ = 0;
};

}  // namespace faregate::payments
