#pragma once
// PushStoreDenyList: the payments ledger's DenyList over the deny list the back office pushes
// to validators (denylist::PushStore, DATA_DIR/pushes.db). It reads the list once, lets the
// ledger add and remove tokens in memory, and flush() writes the net effect as ONE new deny
// list version (or none, when nothing changed), which validators receive on their next sync.
//
// Tokens the operator listed by hand (`faregate-backoffice deny-list add`) are tokens like any
// other: an approval of that card lifts them. Changes made by others between construction and
// flush() are kept: flush() only sends this list's own additions and removals.
//
// Not thread-safe.

#include <cstdint>
#include <unordered_map>
#include <unordered_set>

#include "backoffice/denylist/push_store.h"
#include "backoffice/payments/deny_list.h"

namespace faregate::billing {

class PushStoreDenyList final : public payments::DenyList {
 public:
  // Reads the current list of `store` (which must outlive this object).
  static Result<PushStoreDenyList> load(denylist::PushStore& store);

  bool add(const payments::CardToken& token, const std::string& reason) override;
  bool remove(const payments::CardToken& token) override;
  bool contains(const payments::CardToken& token) const override { return listed_.contains(token); }
  std::size_t size() const override { return listed_.size(); }

  std::size_t pending_additions() const;
  std::size_t pending_removals() const;
  // Writes the pending changes as one deny list version. Returns the version after it.
  // Errors: those of PushStore::change_deny_list (the changes stay pending).
  Result<std::uint64_t> flush();

 private:
  explicit PushStoreDenyList(denylist::PushStore& store) : store_(&store) {}
  denylist::PushStore* store_;
  std::unordered_set<payments::CardToken, fares::CardTokenHash> listed_;
  // token -> true: to add, false: to remove (net effect since load or the last flush).
  std::unordered_map<payments::CardToken, bool, fares::CardTokenHash> pending_;
};

}  // namespace faregate::billing
