#include "backoffice/fares/entitlement_registry.h"

#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "backoffice/fares/csv_reader.h"
#include "backoffice/fares/fare_policy.h"
#include "backoffice/fares/local_time.h"

namespace faregate::fares {

void EntitlementRegistry::add(const CardToken& card, Entitlement entitlement) {
  by_card_[card].push_back(std::move(entitlement));
}

std::string_view EntitlementRegistry::category_for(const CardToken& card, std::int32_t service_day) const {
  auto it = by_card_.find(card);
  if (it == by_card_.end()) return {};
  for (auto e = it->second.rbegin(); e != it->second.rend(); ++e) {
    if (service_day >= e->valid_from_day && service_day <= e->valid_until_day) return e->rider_category_id;
  }
  return {};
}

const std::vector<Entitlement>& EntitlementRegistry::of(const CardToken& card) const {
  static const std::vector<Entitlement> kNoEntitlements;
  auto it = by_card_.find(card);
  return it == by_card_.end() ? kNoEntitlements : it->second;
}

}  // namespace faregate::fares

namespace faregate::fares {

namespace {

// "YYYY-MM-DD" as a day number.
std::optional<std::int32_t> parse_dashed_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  std::string compact;
  compact.append(text.substr(0, 4)).append(text.substr(5, 2)).append(text.substr(8, 2));
  return parse_gtfs_date(compact);
}

}  // namespace

Status load_entitlements_csv(std::string_view text, const std::string& file_name, const FarePolicy& policy,
                             EntitlementRegistry& registry) {
  auto table = CsvTable::open(text, file_name);
  if (!table) return std::unexpected(table.error());
  CsvTable& t = *table;
  const int token_col = t.column("card_token");
  const int category_col = t.column("rider_category");
  if (token_col < 0 || category_col < 0) {
    return make_error(ErrorCode::kInvalidArgument, file_name + ":1: the header must name card_token,rider_category");
  }
  const int from_col = t.column("valid_from");
  const int until_col = t.column("valid_until");
  // Read whole before anything is registered: a bad line leaves the registry as it was.
  std::vector<std::pair<CardToken, Entitlement>> read;
  for (;;) {
    auto more = t.next();
    if (!more) return std::unexpected(more.error());
    if (!*more) break;
    auto token = CardToken::from_hex(t.field(token_col));
    if (!token) return std::unexpected(t.error_here("card_token '" + std::string(t.field(token_col)) + "' is not 1 to 32 bytes of hex"));
    Entitlement e;
    e.rider_category_id = std::string(t.field(category_col));
    const Index category = policy.rider_category_index(e.rider_category_id);
    if (category == kNone || category == kUnknown) {
      return std::unexpected(t.error_here("rider_category '" + e.rider_category_id + "' is not in rider_categories.txt"));
    }
    for (const auto& [col, name, day] : {std::tuple{from_col, "valid_from", &e.valid_from_day},
                                         std::tuple{until_col, "valid_until", &e.valid_until_day}}) {
      const std::string_view field = t.field(col);
      if (field.empty()) continue;
      const auto parsed = parse_dashed_date(field);
      if (!parsed) return std::unexpected(t.error_here(std::string(name) + " '" + std::string(field) + "' is not a YYYY-MM-DD date"));
      *day = *parsed;
    }
    if (e.valid_until_day < e.valid_from_day) return std::unexpected(t.error_here("valid_until is before valid_from"));
    read.emplace_back(*token, std::move(e));
  }
  for (auto& [token, e] : read) registry.add(token, std::move(e));
  return {};
}

}  // namespace faregate::fares
