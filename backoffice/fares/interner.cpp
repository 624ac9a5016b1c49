#include "backoffice/fares/interner.h"

namespace faregate::fares {

Index Interner::intern(std::string_view name) {
  if (auto it = index_.find(name); it != index_.end()) return it->second;
  const auto index = static_cast<Index>(names_.size());
  names_.emplace_back(name);
  index_.emplace(names_.back(), index);
  return index;
}

Index Interner::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? kNone : it->second;
}

}  // namespace faregate::fares
