#pragma once
// DenyList: card tokens validators must refuse (a declined charge or verification, an
// outstanding debt). Versioned so that sync can send validators only what changed since the
// version they hold (the DenyListDelta of the sync protocol).

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "backoffice/fares/card_token.h"

namespace faregate::payments {

using fares::CardToken;

struct DenyListChange {
  std::uint64_t version = 0;
  CardToken token;
  bool added = false;  // false: removed
  std::string reason;  // why it was added ("charge_declined", "verification_declined")
};

class DenyList {
 public:
  // Adds or keeps a token; returns true when this changed the list.
  bool add(const CardToken& token, const std::string& reason);
  bool remove(const CardToken& token);
  bool contains(const CardToken& token) const { return entries_.contains(token); }
  std::size_t size() const { return entries_.size(); }
  std::uint64_t version() const { return version_; }
  // Changes with version > `since`, oldest first (what a validator at `since` must apply).
  std::vector<DenyListChange> changes_since(std::uint64_t since) const;

 private:
  std::unordered_map<CardToken, std::string, fares::CardTokenHash> entries_;
  std::vector<DenyListChange> log_;
  std::uint64_t version_ = 0;
};

}  // namespace faregate::payments
