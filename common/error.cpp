#include "common/error.h"

namespace faregate {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kProtocol: return "protocol";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kCrypto: return "crypto";
    case ErrorCode::kCardRemoved: return "card_removed";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Error::describe() const { return std::string(to_string(code)) + ": " + message; }

}  // namespace faregate
