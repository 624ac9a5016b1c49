#pragma once
// store::open_tap_store: the one place a back-office program turns a store specification (its
// --store flag) into a TapStore, so every program accepts the same forms:
//   sqlite:PATH                            an SQLite file (created if missing; the parent
//                                          directory must exist)
//   postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAM=VALUE...]
//   postgres://...                         the same (libpq connection URIs)
// Each backend then uses its default options.

#include <memory>
#include <string>
#include <string_view>

#include "backoffice/store/tap_store.h"
#include "common/error.h"

namespace faregate::store {

// Returns: the opened store. Errors: kInvalidArgument for a spec of neither form (or an empty
// path), otherwise whatever the backend's open() reports.
Result<std::unique_ptr<TapStore>> open_tap_store(std::string_view spec);

// The spec with any password replaced by "***", fit for logs and error messages.
std::string redact_store_spec(std::string_view spec);

}  // namespace faregate::store
