#pragma once
// Interner: maps the string ids of a feed (stop_id, route_id, area_id, ...) to dense integer
// indexes once at load time, so that the fare engine compares integers and indexes flat vectors
// on its hot path instead of hashing strings.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace faregate::fares {

// A dense index into one of the policy's tables.
using Index = std::uint32_t;
// "No value": an empty GTFS field, a tap without a route, a leg without a fare product.
inline constexpr Index kNone = 0xFFFFFFFFu;
// "A value that is not in the feed": a tap naming a stop_id the policy does not know.
inline constexpr Index kUnknown = 0xFFFFFFFEu;

class Interner {
 public:
  Interner() = default;
  Interner(const Interner&) = delete;
  Interner& operator=(const Interner&) = delete;
  Interner(Interner&&) = default;
  Interner& operator=(Interner&&) = default;

  // Returns the index of `name`, adding it if new. Indexes are dense and start at 0.
  Index intern(std::string_view name);
  // Returns kNone when `name` was never interned.
  Index find(std::string_view name) const;
  // Requires: index < size().
  const std::string& name(Index index) const { return names_[index]; }
  std::size_t size() const { return names_.size(); }

 private:
  // A deque never moves its elements, so the string_views used as keys stay valid.
  std::deque<std::string> names_;
  std::unordered_map<std::string_view, Index> index_;
};

}  // namespace faregate::fares
