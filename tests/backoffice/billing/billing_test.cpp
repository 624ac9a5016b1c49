// The fare run's pieces: the deny list over the push store (one version per run, net effect,
// others' changes kept), the acquirer spec, and a fare run that cannot identify cards commits
// nothing.
#include <catch2/catch.hpp>

#include <map>

#include "backoffice/billing/fare_run.h"
#include "backoffice/billing/push_store_deny_list.h"
#include "backoffice/fares/gtfs_fares_loader.h"
#include "backoffice/payments/ledger_store.h"
#include "backoffice/store/sqlite_tap_store.h"
#include "tests/support/temp_dir.h"

using namespace faregate;
using faregate::billing::PushStoreDenyList;

namespace {

fares::CardToken token(std::uint8_t fill) {
  Bytes b(32, fill);
  return *fares::CardToken::from_bytes(b);
}

Bytes bytes_of(const fares::CardToken& t) { return Bytes(t.bytes().begin(), t.bytes().end()); }

fares::FarePolicy tiny_policy() {
  std::map<std::string, std::string> f;
  f["agency.txt"] = "agency_id,agency_name,agency_url,agency_timezone\nx,X,https://x.example,Europe/Lisbon\n";
  f["stops.txt"] = "stop_id,stop_name\na,A\nb,B\n";
  f["fare_products.txt"] = "fare_product_id,amount,currency\nsingle,2.00,EUR\n";
  f["fare_leg_rules.txt"] = "leg_group_id,fare_product_id\nall,single\n";
  auto p = fares::load_gtfs_fares(fares::FeedSource::in_memory(f));
  REQUIRE(p);
  return std::move(*p);
}

}  // namespace

TEST_CASE("a run's deny list changes reach the push store as one version, net of each other", "[billing]") {
  faregate::testing::TempDir dir;
  auto store = denylist::PushStore::open(dir / "pushes.db");
  REQUIRE(store);
  REQUIRE((*store)->change_deny_list(std::vector<Bytes>{bytes_of(token(1))}, {}).value() == 1);

  auto list = PushStoreDenyList::load(**store);
  REQUIRE(list);
  CHECK(list->contains(token(1)));
  CHECK(list->size() == 1);
  CHECK(list->add(token(2), "charge_declined"));
  CHECK_FALSE(list->add(token(2), "charge_declined"));  // already listed
  CHECK(list->add(token(3), "verification_declined"));
  CHECK(list->remove(token(3)));                          // added and lifted in the same run
  CHECK(list->remove(token(1)));
  CHECK_FALSE(list->remove(token(9)));
  CHECK(list->pending_additions() == 1);
  CHECK(list->pending_removals() == 1);

  // The operator lists a token by hand meanwhile: the flush keeps it.
  REQUIRE((*store)->change_deny_list(std::vector<Bytes>{bytes_of(token(7))}, {}).value() == 2);
  REQUIRE(list->flush().value() == 3);
  const auto stored = (*store)->deny_list().value();
  CHECK(stored == std::vector<Bytes>{bytes_of(token(2)), bytes_of(token(7))});
  // Validators at version 2 get exactly this run's net change.
  const auto delta = (*store)->deny_list_update(2).value();
  REQUIRE(delta);
  CHECK(delta->added_size() == 1);
  CHECK(delta->removed_size() == 1);
  // Nothing pending: no new version.
  CHECK(list->flush().value() == 3);
}

TEST_CASE("the acquirer spec names the simulated acquirer and its decline rules", "[billing]") {
  auto plain = billing::parse_acquirer_spec("simulated");
  REQUIRE(plain);
  CHECK(plain->decline_iins.empty());
  auto rules = billing::parse_acquirer_spec("simulated:decline-iin=476199,decline-token=0a0b,decline-iin=541333");
  REQUIRE(rules);
  CHECK(rules->decline_iins == std::vector<std::string>{"476199", "541333"});
  REQUIRE(rules->decline_tokens.size() == 1);
  CHECK(rules->decline_tokens[0].hex() == "0a0b");
  for (const char* bad : {"visa-net", "simulatedx", "simulated:decline-iin=4761", "simulated:decline-iin=47619x",
                          "simulated:decline-token=zz", "simulated:approve-all", "simulated:decline-iin=476199,"}) {
    INFO(bad);
    auto r = billing::parse_acquirer_spec(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("a fare run over an empty store balances, and one that cannot open card data commits nothing", "[billing]") {
  faregate::testing::TempDir dir;
  const auto policy = tiny_policy();
  billing::FareRunOptions o;
  o.data_dir = dir.path();
  o.now_ms = *fares::parse_iso8601_utc_ms("2026-03-03T12:00:00Z");
  auto empty = billing::run_fare_run(policy, o);
  REQUIRE(empty);
  CHECK(empty->taps_received == 0);
  CHECK(empty->balanced);
  CHECK(empty->ledger_runs == 1);
  CHECK(empty->deny_list_version == 0);

  o.acquirer = *billing::parse_acquirer_spec("simulated:decline-iin=476199");
  auto keyless = billing::run_fare_run(policy, o);
  REQUIRE_FALSE(keyless);
  CHECK(keyless.error().message.find("sealing private key") != std::string::npos);
  auto ledger = payments::LedgerStore::open(dir / "payments.db");
  REQUIRE(ledger);
  auto run = (*ledger)->begin_run();
  REQUIRE(run);
  CHECK(run->previous_runs == 1);
}

TEST_CASE("a ledger in another currency than the feed is refused", "[billing]") {
  faregate::testing::TempDir dir;
  {
    auto ledger = payments::LedgerStore::open(dir / "payments.db");
    REQUIRE(ledger);
    REQUIRE((*ledger)->begin_run());
    payments::LedgerSnapshot gbp;
    gbp.currency = *fares::CurrencyCode::parse("GBP");
    REQUIRE((*ledger)->save(gbp));
    REQUIRE((*ledger)->commit());
  }
  billing::FareRunOptions o;
  o.data_dir = dir.path();
  o.now_ms = *fares::parse_iso8601_utc_ms("2026-03-03T12:00:00Z");
  auto r = billing::run_fare_run(tiny_policy(), o);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("GBP") != std::string::npos);
}

TEST_CASE("paying a debt on an empty ledger says there is nothing yet", "[billing]") {
  faregate::testing::TempDir dir;
  auto r = billing::pay_debt(dir.path(), token(5));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kNotFound);
}

namespace {

// Two stops, a EUR 2.00 single and its EUR 0.90 senior version.
fares::FarePolicy concession_policy() {
  std::map<std::string, std::string> f;
  f["agency.txt"] = "agency_id,agency_name,agency_url,agency_timezone\nx,X,https://x.example,Europe/Lisbon\n";
  f["stops.txt"] = "stop_id,stop_name\na,A\nb,B\n";
  f["rider_categories.txt"] =
      "rider_category_id,rider_category_name,is_default_fare_category\nadult,Adult,1\nsenior,Senior,0\n";
  f["fare_products.txt"] = "fare_product_id,rider_category_id,amount,currency\nsingle,,2.00,EUR\nsingle,senior,0.90,EUR\n";
  f["fare_leg_rules.txt"] = "leg_group_id,fare_product_id\nall,single\n";
  auto p = fares::load_gtfs_fares(fares::FeedSource::in_memory(f));
  REQUIRE(p);
  return std::move(*p);
}

// One onboard tap per token on 2026-03-02 (Lisbon), stored as a validator would.
void store_taps(const std::filesystem::path& path, const std::vector<fares::CardToken>& tokens) {
  auto store = store::SqliteTapStore::open(path);
  REQUIRE(store);
  std::vector<faregate::v1::TapRecord> records;
  for (const auto& t : tokens) {
    auto& r = records.emplace_back();
    r.set_device_id("bus-1");
    r.set_seq(records.size());
    r.set_tap_time_utc_ms(*fares::parse_iso8601_utc_ms("2026-03-02T09:00:00Z") + static_cast<std::int64_t>(records.size()));
    r.set_stop_id("a");
    r.set_role(faregate::v1::VALIDATOR_ROLE_ONBOARD);
    r.set_card_token(reinterpret_cast<const char*>(t.bytes().data()), t.size());
    r.set_decision(faregate::v1::DECISION_ACCEPT);
  }
  REQUIRE((*store)->store_batch("bus-1", records));
}

}  // namespace

TEST_CASE("decline-token=HEX:N declines a token's first N requests only", "[billing]") {
  auto rules = billing::parse_acquirer_spec("simulated:decline-token=0a0b:2,decline-token=0c");
  REQUIRE(rules);
  REQUIRE(rules->decline_token_attempts.size() == 1);
  CHECK(rules->decline_token_attempts[0].first.hex() == "0a0b");
  CHECK(rules->decline_token_attempts[0].second == 2);
  REQUIRE(rules->decline_tokens.size() == 1);
  for (const char* bad : {"simulated:decline-token=0a0b:0", "simulated:decline-token=0a0b:x",
                          "simulated:decline-token=0a0b:", "simulated:decline-token=:2"}) {
    INFO(bad);
    CHECK_FALSE(billing::parse_acquirer_spec(bad));
  }
}

TEST_CASE("fare runs sharing one acquirer: a resubmission it approves lifts the token from the deny list",
          "[billing]") {
  faregate::testing::TempDir dir;
  const auto policy = concession_policy();
  store_taps(dir / "taps.db", {token(1)});
  payments::SimulatedAcquirer acquirer;
  billing::FareRunOptions o;
  o.data_dir = dir.path();
  o.acquirer = *billing::parse_acquirer_spec("simulated:decline-token=" + token(1).hex() + ":2");
  billing::configure_acquirer(acquirer, o.acquirer);
  o.acquirer_instance = &acquirer;
  o.payments.resubmission_interval_ms = 60'000;
  o.now_ms = *fares::parse_iso8601_utc_ms("2026-03-03T12:00:00Z");
  // Verification and charge declined: listed, debt.
  auto first = billing::run_fare_run(policy, o);
  REQUIRE(first);
  CHECK(first->verifications_declined == 1);
  CHECK(first->submitted.declined == 1);
  CHECK(first->deny_list_size == 1);
  CHECK(first->outstanding_debt == 200);
  // Before the interval: nothing is resubmitted.
  o.now_ms += 30'000;
  auto early = billing::run_fare_run(policy, o);
  REQUIRE(early);
  CHECK(early->submitted.resubmitted == 0);
  CHECK(early->deny_list_size == 1);
  // After it: the resubmission is approved and the token leaves the list (a new version).
  o.now_ms += 60'000;
  auto second = billing::run_fare_run(policy, o);
  REQUIRE(second);
  CHECK(second->submitted.resubmitted == 1);
  CHECK(second->submitted.approved == 1);
  CHECK(second->deny_list_removed == 1);
  CHECK(second->deny_list_size == 0);
  CHECK(second->deny_list_version == first->deny_list_version + 1);
  CHECK(second->outstanding_debt == 0);
  CHECK(second->balanced);
}

TEST_CASE("a concession registered in the entitlements file is charged on every tap of its card", "[billing]") {
  faregate::testing::TempDir dir;
  const auto policy = concession_policy();
  store_taps(dir / "taps.db", {token(1), token(2)});
  fares::EntitlementRegistry entitlements;
  const std::string csv = "card_token,rider_category,valid_from,valid_until\n" + token(2).hex() + ",senior,2026-01-01,\n";
  REQUIRE(fares::load_entitlements_csv(csv, "entitlements.csv", policy, entitlements));
  billing::FareRunOptions o;
  o.data_dir = dir.path();
  o.entitlements = &entitlements;
  o.now_ms = *fares::parse_iso8601_utc_ms("2026-03-03T12:00:00Z");
  auto run = billing::run_fare_run(policy, o);
  REQUIRE(run);
  CHECK(run->submitted.approved == 2);
  CHECK(run->revenue == 200 + 90);
  CHECK(run->balanced);
  REQUIRE(run->concessions.size() == 1);
  CHECK(run->concessions[0].rider_category == "senior");
  CHECK(run->concessions[0].card_days == 1);
  CHECK(run->concessions[0].revenue == 90);
  CHECK(billing::format_summary(*run).find("concessions: 1 card-days at a concession fare (senior 1), 0.90 EUR") !=
        std::string::npos);
  auto ledger = payments::LedgerStore::open(dir / "payments.db");
  REQUIRE(ledger);
  const auto snapshot = (*ledger)->read().value().value();
  std::map<std::string, std::int64_t> charged;
  for (const auto& c : snapshot.charges) charged[c.token.hex()] += c.amount;
  CHECK(charged[token(1).hex()] == 200);
  CHECK(charged[token(2).hex()] == 90);
}

TEST_CASE("an entitlements file with a bad line registers nothing and names the line", "[billing]") {
  const auto policy = concession_policy();
  fares::EntitlementRegistry registry;
  const std::string good = token(3).hex() + ",senior\n";
  for (const auto& [text, fragment] :
       std::vector<std::pair<std::string, std::string>>{
           {"card_token,rider_category\n" + good + "zz,senior\n", "entitlements.csv:3"},
           {"card_token,rider_category\n" + good + token(4).hex() + ",student\n", "student"},
           {"card_token,rider_category,valid_from\n" + token(4).hex() + ",senior,2026-13-01\n", "valid_from"},
           {"card_token,rider_category,valid_from,valid_until\n" + token(4).hex() + ",senior,2026-03-02,2026-03-01\n",
            "before"},
           {"card,rider_category\n" + good, "card_token"}}) {
    INFO(text);
    auto r = fares::load_entitlements_csv(text, "entitlements.csv", policy, registry);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find(fragment) != std::string::npos);
  }
  CHECK(registry.size() == 0);
}

TEST_CASE("concession card-days count the days charged a concession category's own fare, once each", "[billing]") {
  const auto policy = concession_policy();
  const fares::Index senior = policy.rider_category_index("senior");
  const fares::Index adult = policy.rider_category_index("adult");
  REQUIRE(senior != fares::kNone);
  fares::PricingResult pricing;
  // leg categories of each card-day, its total, and whether the concession fare applied
  struct Day {
    std::vector<std::pair<fares::Index, bool>> legs;  // (rider category, default_category_fare)
    std::int64_t total;
  };
  const std::vector<Day> days = {
      {{{fares::kNone, false}}, 200},                 // a default rider
      {{{adult, false}}, 200},                        // the default category named
      {{{senior, false}, {senior, false}}, 180},      // two senior legs: one card-day
      {{{senior, true}}, 200},                        // no senior price: charged the default fare
      {{{fares::kNone, false}, {senior, false}}, 290},  // counts for its senior leg
      {{}, 0},                                        // only orphan taps
  };
  for (std::size_t i = 0; i < days.size(); ++i) {
    auto& d = pricing.days.emplace_back();
    d.card = token(static_cast<std::uint8_t>(i + 1));
    d.leg_begin = static_cast<std::uint32_t>(pricing.legs.size());
    d.leg_count = static_cast<std::uint32_t>(days[i].legs.size());
    d.total = days[i].total;
    for (const auto& [category, default_fare] : days[i].legs) {
      auto& leg = pricing.legs.emplace_back();
      leg.priced = true;
      leg.rider_category = category;
      leg.default_category_fare = default_fare;
    }
  }
  // An unpriced senior leg charged nothing at a senior fare.
  auto& unpriced = pricing.days.emplace_back();
  unpriced.card = token(9);
  unpriced.leg_begin = static_cast<std::uint32_t>(pricing.legs.size());
  unpriced.leg_count = 1;
  pricing.legs.emplace_back().rider_category = senior;

  const auto tally = billing::tally_concession_days(policy, pricing);
  REQUIRE(tally.size() == 1);
  CHECK(tally[0].rider_category == "senior");
  CHECK(tally[0].card_days == 2);
  CHECK(tally[0].revenue == 180 + 290);
  CHECK(billing::tally_concession_days(policy, fares::PricingResult{}).empty());
}
