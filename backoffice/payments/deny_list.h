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

// The interface the payments ledger changes. Implementations: MemoryDenyList (tests, tools)
// and the back office's list pushed to validators (backoffice/billing/push_store_deny_list.h).
class DenyList {
 public:
  virtual ~DenyList() = default;
  // Adds or keeps a token; returns true when this changed the list.
  virtual bool add(const CardToken& token, const std::string& reason) = 0;
  // Returns true when the token was listed (and is not any more).
  virtual bool remove(const CardToken& token) = 0;
  virtual bool contains(const CardToken& token) const = 0;
  virtual std::size_t size() const = 0;
};

// An in-memory deny list with its own version and change log.
class MemoryDenyList final : public DenyList {
 public:
  bool add(const CardToken& token, const std::string& reason) override;
  bool remove(const CardToken& token) override;
  bool contains(const CardToken& token) const override { return entries_.contains(token); }
  std::size_t size() const override { return entries_.size(); }
  std::uint64_t version() const { return version_; }
  // Changes with version > `since`, oldest first (what a validator at `since` must apply).
  std::vector<DenyListChange> changes_since(std::uint64_t since) const;

 private:
  std::unordered_map<CardToken, std::string, fares::CardTokenHash> entries_;
  std::vector<DenyListChange> log_;
  std::uint64_t version_ = 0;
};

}  // namespace faregate::payments
