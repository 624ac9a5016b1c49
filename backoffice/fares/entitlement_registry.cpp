#include "backoffice/fares/entitlement_registry.h"

#include <utility>

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
