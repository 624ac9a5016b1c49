#include "backoffice/store/tap_store_factory.h"

#include <filesystem>

#include "backoffice/store/postgresql_tap_store.h"
#include "backoffice/store/sqlite_tap_store.h"

namespace faregate::store {

namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kPostgresqlPrefixes[] = {"postgresql://", "postgres://"};
constexpr std::string_view kForms = "expected sqlite:PATH or postgresql://USER@HOST:PORT/DATABASE";

bool is_postgresql(std::string_view spec) {
  for (const auto prefix : kPostgresqlPrefixes) {
    if (spec.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<TapStore>> open_tap_store(std::string_view spec) {
  if (spec.starts_with(kSqlitePrefix)) {
    const std::string_view path = spec.substr(kSqlitePrefix.size());
    if (path.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "store spec 'sqlite:' names no file");
    }
    auto store = SqliteTapStore::open(std::filesystem::path(path));
    if (!store) return std::unexpected(store.error());
    return std::unique_ptr<TapStore>(std::move(*store));
  }
  if (is_postgresql(spec)) {
    auto store = PostgresqlTapStore::open(spec);
    if (!store) return std::unexpected(store.error());
    return std::unique_ptr<TapStore>(std::move(*store));
  }
  // Only the part before the first ':' is repeated: the rest could hold a password.
  const std::string_view scheme = spec.substr(0, std::min(spec.find(':'), std::size_t{32}));
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown store '" + std::string(scheme) + "...': " + std::string(kForms));
}

std::string redact_store_spec(std::string_view spec) {
  if (!is_postgresql(spec)) return std::string(spec);
  // postgresql://user:password@host/...: the password sits between the first ':' after the
  // scheme and the last '@' of the authority.
  const std::size_t authority = spec.find("//") + 2;
  const std::size_t authority_end = spec.find_first_of("/?", authority);
  const std::string_view auth =
      spec.substr(authority, authority_end == std::string_view::npos ? std::string_view::npos
                                                                     : authority_end - authority);
  const std::size_t at = auth.rfind('@');
  std::string redacted(spec);
  if (at != std::string_view::npos) {
    const std::size_t colon = auth.find(':');
    if (colon != std::string_view::npos && colon < at) {
      redacted.replace(authority + colon + 1, at - colon - 1, "***");
    }
  }
  // A password may also come as a query parameter.
  const std::size_t query = redacted.find('?');
  if (query != std::string::npos) {
    std::size_t at_param = query + 1;
    while (at_param < redacted.size()) {
      std::size_t end = redacted.find('&', at_param);
      if (end == std::string::npos) end = redacted.size();
      if (redacted.compare(at_param, 9, "password=") == 0) {
        redacted.replace(at_param + 9, end - at_param - 9, "***");
        end = at_param + 12;
      }
      at_param = end + 1;
    }
  }
  return redacted;
}

}  // namespace faregate::store
