#include "backoffice/payments/deny_list.h"

#include <algorithm>

namespace faregate::payments {

bool MemoryDenyList::add(const CardToken& token, const std::string& reason) {
  if (!entries_.emplace(token, reason).second) return false;
  log_.push_back({++version_, token, true, reason});
  return true;
}

bool MemoryDenyList::remove(const CardToken& token) {
  if (entries_.erase(token) == 0) return false;
  log_.push_back({++version_, token, false, ""});
  return true;
}

std::vector<DenyListChange> MemoryDenyList::changes_since(std::uint64_t since) const {
  auto first = std::upper_bound(log_.begin(), log_.end(), since,
                                [](std::uint64_t v, const DenyListChange& c) { return v < c.version; });
  return {first, log_.end()};
}

}  // namespace faregate::payments
