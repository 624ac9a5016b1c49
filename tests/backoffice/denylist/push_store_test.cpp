// denylist::PushStore on a real SQLite file: versions, net deltas, full lists for validators
// behind the kept history (or ahead of a restored store), config bundles, persistence.

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include "backoffice/denylist/push_store.h"
#include "tests/support/temp_dir.h"

using faregate::Bytes;
using faregate::denylist::PushStore;
using faregate::denylist::PushStoreOptions;
using faregate::testing::TempDir;
using Tokens = std::vector<Bytes>;

namespace {

Bytes token(std::uint8_t n) { return Bytes(32, n); }
std::string text(std::uint8_t n) { return std::string(32, static_cast<char>(n)); }

std::unique_ptr<PushStore> open_store(const TempDir& dir, PushStoreOptions options = {}) {
  auto store = PushStore::open(dir.path() / "pushes.db", options);
  REQUIRE(store);
  return std::move(*store);
}

std::vector<std::string> sorted(const google::protobuf::RepeatedPtrField<std::string>& field) {
  std::vector<std::string> out(field.begin(), field.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("each deny list change makes one new version and a no-op change makes none") {
  TempDir dir;
  auto store = open_store(dir);
  CHECK(store->deny_list_version().value() == 0);
  CHECK(store->change_deny_list(Tokens{token(1), token(2)}, {}).value() == 1);
  CHECK(store->change_deny_list(Tokens{token(3)}, Tokens{token(1)}).value() == 2);
  CHECK(store->change_deny_list(Tokens{token(2)}, Tokens{token(9)}).value() == 2);
  CHECK(store->deny_list().value() == Tokens{token(2), token(3)});
}

TEST_CASE("a validator behind gets the net delta from its version") {
  TempDir dir;
  auto store = open_store(dir);
  REQUIRE(store->change_deny_list(Tokens{token(1), token(2)}, {}));  // v1
  REQUIRE(store->change_deny_list(Tokens{token(3)}, {}));            // v2
  REQUIRE(store->change_deny_list(Tokens{token(4)}, Tokens{token(1), token(3)}));  // v3

  auto from1 = store->deny_list_update(1);
  REQUIRE(from1);
  REQUIRE(from1->has_value());
  const auto& delta = **from1;
  CHECK_FALSE(delta.full());
  CHECK(delta.from_version() == 1);
  CHECK(delta.to_version() == 3);
  // token 3 was added and removed after v1: net removed (the validator may not have it; removing
  // an absent token is harmless). token 1 removed, token 4 added.
  CHECK(sorted(delta.added()) == std::vector<std::string>{text(4)});
  CHECK(sorted(delta.removed()) == std::vector<std::string>{text(1), text(3)});

  auto current = store->deny_list_update(3);
  REQUIRE(current);
  CHECK_FALSE(current->has_value());
}

TEST_CASE("a validator older than the kept history, or ahead of the store, gets the full list") {
  TempDir dir;
  auto store = open_store(dir, PushStoreOptions{2, 1000});
  for (std::uint8_t n = 1; n <= 5; ++n) REQUIRE(store->change_deny_list(Tokens{token(n)}, {}));
  CHECK(store->delta_base().value() == 3);
  for (std::uint64_t behind : {0u, 2u}) {
    auto update = store->deny_list_update(behind);
    REQUIRE(update);
    REQUIRE(update->has_value());
    CHECK((*update)->full());
    CHECK((*update)->to_version() == 5);
    CHECK((*update)->added_size() == 5);
  }
  auto delta = store->deny_list_update(3);
  REQUIRE(delta);
  CHECK_FALSE((*delta)->full());
  CHECK((*delta)->added_size() == 2);
  auto ahead = store->deny_list_update(9);
  REQUIRE(ahead);
  CHECK((*ahead)->full());
  CHECK((*ahead)->to_version() == 5);
}

TEST_CASE("a push larger than one frame may carry is refused, not sent") {
  TempDir dir;
  auto store = open_store(dir, PushStoreOptions{1000, 3});
  REQUIRE(store->change_deny_list(Tokens{token(1), token(2), token(3), token(4)}, {}));
  auto update = store->deny_list_update(0);
  REQUIRE_FALSE(update);
  CHECK(update.error().code == faregate::ErrorCode::kInvalidArgument);
}

TEST_CASE("tokens that are not 32 bytes are refused and change nothing") {
  TempDir dir;
  auto store = open_store(dir);
  auto bad = store->change_deny_list(Tokens{token(1), Bytes(31, 2)}, {});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == faregate::ErrorCode::kInvalidArgument);
  CHECK(store->deny_list_version().value() == 0);
  CHECK(store->deny_list().value().empty());
}

TEST_CASE("config bundles get increasing versions and are pushed only to older validators") {
  TempDir dir;
  auto store = open_store(dir);
  CHECK_FALSE(store->config_update(0).value().has_value());
  faregate::v1::ConfigBundle bundle;
  bundle.set_anti_passback_seconds(90);
  bundle.set_sync_interval_seconds(15);
  CHECK(store->set_config(bundle).value() == 1);
  bundle.set_sync_batch_taps(250);
  CHECK(store->set_config(bundle).value() == 2);
  auto update = store->config_update(1);
  REQUIRE(update);
  REQUIRE(update->has_value());
  CHECK((*update)->version() == 2);
  CHECK((*update)->sync_batch_taps() == 250);
  CHECK_FALSE(store->config_update(2).value().has_value());
  CHECK_FALSE(store->config_update(7).value().has_value());
}

TEST_CASE("the push store keeps everything across a reopen and refuses other files") {
  TempDir dir;
  {
    auto store = open_store(dir);
    REQUIRE(store->change_deny_list(Tokens{token(7)}, {}));
    faregate::v1::ConfigBundle bundle;
    bundle.set_anti_passback_seconds(30);
    REQUIRE(store->set_config(bundle));
  }
  auto store = open_store(dir);
  CHECK(store->deny_list_version().value() == 1);
  CHECK(store->deny_list().value() == Tokens{token(7)});
  CHECK(store->config().value().anti_passback_seconds() == 30);

  std::ofstream(dir.path() / "not-a-db") << std::string(4096, 'x');
  CHECK_FALSE(PushStore::open(dir.path() / "not-a-db"));
}
