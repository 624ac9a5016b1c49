#include "backoffice/billing/push_store_deny_list.h"

#include <vector>

namespace faregate::billing {

Result<PushStoreDenyList> PushStoreDenyList::load(denylist::PushStore& store) {
  auto tokens = store.deny_list();
  if (!tokens) return std::unexpected(tokens.error());
  PushStoreDenyList list(store);
  for (const auto& bytes : *tokens) {
    auto token = payments::CardToken::from_bytes(bytes);
    if (!token) return make_error(ErrorCode::kCorrupt, "the deny list holds a token that is not 1..32 bytes");
    list.listed_.insert(*token);
  }
  return list;
}

bool PushStoreDenyList::add(const payments::CardToken& token, const std::string& /*reason*/) {
  // The push store keeps tokens only (validators need no reason); the ledger keeps why.
  if (!listed_.insert(token).second) return false;
  auto [it, inserted] = pending_.emplace(token, true);
  if (!inserted) pending_.erase(it);  // removed earlier in this run: back to the stored state
  return true;
}

bool PushStoreDenyList::remove(const payments::CardToken& token) {
  if (listed_.erase(token) == 0) return false;
  auto [it, inserted] = pending_.emplace(token, false);
  if (!inserted) pending_.erase(it);  // added earlier in this run: back to the stored state
  return true;
}

std::size_t PushStoreDenyList::pending_additions() const {
  std::size_t n = 0;
  for (const auto& [token, add] : pending_) n += add ? 1 : 0;
  return n;
}

std::size_t PushStoreDenyList::pending_removals() const { return pending_.size() - pending_additions(); }

Result<std::uint64_t> PushStoreDenyList::flush() {
  std::vector<Bytes> added, removed;
  for (const auto& [token, add] : pending_) {
    const auto bytes = token.bytes();
    (add ? added : removed).emplace_back(bytes.begin(), bytes.end());
  }
  auto version = store_->change_deny_list(added, removed);
  if (!version) return std::unexpected(version.error());
  pending_.clear();
  return *version;
}

}  // namespace faregate::billing
