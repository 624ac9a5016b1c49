#pragma once
// Errors as values: every call that can fail at run time (card, disk, network) returns
// Result<T> = std::expected<T, Error>. Exceptions are kept for programmer errors and start-up
// configuration only. A denied tap is a normal outcome, not an Error.

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace faregate {

enum class ErrorCode {
  kInvalidArgument,  // the caller passed something malformed (CLI argument, file contents, ...)
  kNotFound,
  kIo,               // the OS or a library failed to read, write or connect
  kCorrupt,          // stored or received data fails its own checks
  kTimeout,
  kUnavailable,      // the peer or device is not there (reader unplugged, server down)
  kProtocol,         // the peer broke the protocol (bad frame, unexpected message, bad APDU)
  kConflict,         // the data contradicts what is already held
  kCrypto,
  kCardRemoved,      // the card left the field during the exchange
  kInternal,
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;

  // "io: cannot open journal.db: disk full"
  std::string describe() const;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> make_error(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

// Prepends context to an error on its way up: "opening journal: io: ...".
inline std::unexpected<Error> with_context(const Error& error, std::string_view context) {
  return std::unexpected<Error>(
      Error{error.code, std::string(context) + ": " + error.message});
}

}  // namespace faregate
