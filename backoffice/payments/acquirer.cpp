#include "backoffice/payments/acquirer.h"

namespace faregate::payments {

Result<AuthResponse> Acquirer::authorize(const AuthRequest& request) {
  if (request.reference.empty()) return make_error(ErrorCode::kInvalidArgument, "authorization without a reference");
  if (request.token.size() == 0) return make_error(ErrorCode::kInvalidArgument, "authorization without a card token");
  if (request.currency.empty()) return make_error(ErrorCode::kInvalidArgument, "authorization without a currency");
  if (request.kind == AuthKind::kVerification ? request.amount != 0 : request.amount <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "authorization " + request.reference + ": amount " + std::to_string(request.amount) +
                          (request.kind == AuthKind::kVerification ? " must be 0 for a verification"
                                                                   : " must be positive"));
  }
  return do_authorize(request);
}

}  // namespace faregate::payments
