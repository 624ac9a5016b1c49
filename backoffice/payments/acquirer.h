#pragma once
// Acquirer: where the back office sends account verifications, authorizations and refunds.
// Business code holds an Acquirer&; SimulatedAcquirer (tests, simulator) and a real acquirer
// connection implement do_*. The public calls check their input first, so no backend ever sees
// a malformed request.

#include <cstdint>
#include <string>

#include "backoffice/fares/card_token.h"
#include "backoffice/fares/money.h"
#include "common/error.h"

namespace faregate::payments {

using fares::CardToken;
using fares::CurrencyCode;

enum class AuthKind : std::uint8_t {
  kVerification,  // zero-amount account verification on a token's first tap
  kCharge,        // an aggregated transit charge, or an extra charge after late taps
  kRefund,        // money back after a re-pricing lowered a charged amount
};

struct AuthRequest {
  AuthKind kind = AuthKind::kCharge;
  std::string reference;  // ours, unique per request: the ledger's charge reference
  CardToken token;
  std::int64_t amount = 0;  // minor units; 0 for a verification, > 0 otherwise
  CurrencyCode currency;
  std::int64_t at_ms = 0;   // when the request is made (UTC ms)
};

struct AuthResponse {
  bool approved = false;
  std::string response_code;     // ISO 8583 style: "00" approved, "05" do not honour, "51" funds
  std::string authorization_id;  // the acquirer's id of an approval (empty on decline)
};

class Acquirer {
 public:
  virtual ~Acquirer() = default;
  // Returns an error only when the acquirer could not be asked (network, protocol); a decline
  // is a normal response.
  Result<AuthResponse> authorize(const AuthRequest& request);

 private:
  virtual Result<AuthResponse> do_authorize(const AuthRequest& request) = 0;
};

}  // namespace faregate::payments
