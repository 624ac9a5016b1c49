#include "backoffice/billing/fare_run.h"

#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "backoffice/denylist/push_store.h"
#include "backoffice/billing/push_store_deny_list.h"
#include "backoffice/fares/local_time.h"
#include "backoffice/payments/ledger_store.h"
#include "backoffice/payments/simulated_acquirer.h"
#include "backoffice/recon/reconciliation.h"
#include "backoffice/recon/store_pricing.h"
#include "backoffice/store/tap_store_factory.h"
#include "common/sealed_card_data.h"

namespace faregate::billing {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

Result<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read " + path.string());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The simulated acquirer with the rules applied; for decline-iin rules it is told which card
// each token stands for, from the sealed card data of one of its tap records (opened here, in
// memory; the PAN is wiped at once and only its IIN is kept by the acquirer).
class CardIdentifier {
 public:
  CardIdentifier(payments::SimulatedAcquirer& acquirer, const sealed_box::PrivateKey* key)
      : acquirer_(acquirer), key_(key) {}
  void look_at(std::span<const faregate::v1::TapRecord> records) {
    if (key_ == nullptr) return;
    for (const auto& r : records) {
      if (r.sealed_card_data().empty()) continue;
      auto token = fares::CardToken::from_bytes(as_bytes(r.card_token()));
      if (!token || !tried_.insert(*token).second) continue;
      auto data = sealed_card_data::open(r, *key_);
      // A box that does not open (another key, altered) identifies nothing: the acquirer then
      // treats the card by its other rules.
      if (!data) continue;
      acquirer_.learn_card(*token, data->pan());
      sealed_card_data::wipe(*data);
      ++identified_;
    }
  }
  std::size_t identified() const { return identified_; }

 private:
  payments::SimulatedAcquirer& acquirer_;
  const sealed_box::PrivateKey* key_;
  std::unordered_set<fares::CardToken, fares::CardTokenHash> tried_;
  std::size_t identified_ = 0;
};

}  // namespace

Result<AcquirerRules> parse_acquirer_spec(std::string_view spec) {
  constexpr std::string_view kSimulated = "simulated";
  if (spec.substr(0, kSimulated.size()) != kSimulated ||
      (spec.size() > kSimulated.size() && spec[kSimulated.size()] != ':')) {
    return make_error(ErrorCode::kInvalidArgument,
                      "acquirer '" + std::string(spec) + "': only 'simulated[:RULES]' is known");
  }
  AcquirerRules rules;
  if (spec.size() == kSimulated.size()) return rules;
  std::string_view rest = spec.substr(kSimulated.size() + 1);
  for (bool more = true; more;) {
    const auto comma = rest.find(',');
    const std::string_view rule = rest.substr(0, comma);
    more = comma != std::string_view::npos;
    if (more) rest = rest.substr(comma + 1);
    const auto equals = rule.find('=');
    const std::string_view key = rule.substr(0, equals);
    const std::string_view value = equals == std::string_view::npos ? std::string_view() : rule.substr(equals + 1);
    if (key == "decline-iin" && value.size() == 6 && all_digits(value)) {
      rules.decline_iins.emplace_back(value);
    } else if (key == "decline-token") {
      const auto colon = value.find(':');
      auto token = fares::CardToken::from_hex(value.substr(0, colon));
      if (!token) {
        return make_error(ErrorCode::kInvalidArgument, "acquirer rule '" + std::string(rule) + "': not a card token in hex");
      }
      if (colon == std::string_view::npos) {
        rules.decline_tokens.push_back(*token);
        continue;
      }
      const std::string_view count = value.substr(colon + 1);
      int n = 0;
      const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
      if (ec != std::errc{} || end != count.data() + count.size() || n < 1 || n > 1'000'000) {
        return make_error(ErrorCode::kInvalidArgument,
                          "acquirer rule '" + std::string(rule) + "': N in decline-token=HEX:N must be 1 to 1000000");
      }
      rules.decline_token_attempts.emplace_back(*token, n);
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        "acquirer rule '" + std::string(rule) +
                            "': expected decline-iin=SIX_DIGITS or decline-token=HEX[:N]");
    }
  }
  return rules;
}

void configure_acquirer(payments::SimulatedAcquirer& acquirer, const AcquirerRules& rules) {
  for (const auto& iin : rules.decline_iins) acquirer.decline_issuer(iin);
  for (const auto& token : rules.decline_tokens) acquirer.decline_always(token);
  for (const auto& [token, n] : rules.decline_token_attempts) acquirer.decline_next(token, n);
}

Result<FareRunSummary> run_fare_run(const fares::FarePolicy& policy, const FareRunOptions& o) {
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (policy.currency.empty()) return make_error(ErrorCode::kInvalidArgument, "the fare policy has no currency");

  // The acquirer and its rules.
  payments::SimulatedAcquirer own_acquirer;
  if (o.acquirer_instance == nullptr) configure_acquirer(own_acquirer, o.acquirer);
  payments::SimulatedAcquirer& acquirer = o.acquirer_instance != nullptr ? *o.acquirer_instance : own_acquirer;
  std::optional<sealed_box::PrivateKey> sealing_key;
  if (!o.acquirer.decline_iins.empty()) {
    const auto path = o.sealing_key.empty() ? o.data_dir / "sealing_private.pem" : o.sealing_key;
    auto pem = read_text(path);
    if (!pem) return with_context(pem.error(), "decline-iin rules need the sealing private key");
    auto key = sealed_box::PrivateKey::from_pem(*pem);
    if (!key) return with_context(key.error(), path.string());
    sealing_key.emplace(std::move(*key));
  }
  CardIdentifier identifier(acquirer, sealing_key ? &*sealing_key : nullptr);

  // The ledger's write lock first: a concurrent run waits here and then prices taps at least
  // as new as ours, so a run never records older totals over newer ones.
  auto ledger_store = payments::LedgerStore::open(o.data_dir / "payments.db");
  if (!ledger_store) return std::unexpected(ledger_store.error());
  auto run = (*ledger_store)->begin_run();
  if (!run) return std::unexpected(run.error());
  std::optional<payments::PaymentsLedger> ledger;
  if (run->snapshot) {
    if (!(run->snapshot->currency == policy.currency)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the payments ledger charges in " + std::string(run->snapshot->currency.str()) +
                            ", the fare policy prices in " + std::string(policy.currency.str()));
    }
    auto restored = payments::PaymentsLedger::restore(*run->snapshot, o.payments);
    if (!restored) return std::unexpected(restored.error());
    ledger.emplace(std::move(*restored));
    run->snapshot.reset();  // restored: the rows read need not stay in memory for the whole run
  } else {
    ledger.emplace(policy.currency, o.payments);
  }

  const std::string store_spec = o.store_spec.empty() ? "sqlite:" + (o.data_dir / "taps.db").string() : o.store_spec;
  auto store = store::open_tap_store(store_spec);
  if (!store) return with_context(store.error(), store::redact_store_spec(store_spec));
  const fares::EntitlementRegistry no_entitlements;
  recon::StorePricingOptions pricing_options;
  pricing_options.service_day_start_s = o.service_day_start_s;
  pricing_options.threads = o.threads;
  pricing_options.on_records = [&](std::span<const faregate::v1::TapRecord> records) { identifier.look_at(records); };
  auto priced = recon::price_tap_store(**store, policy, o.entitlements != nullptr ? *o.entitlements : no_entitlements,
                                       pricing_options);
  if (!priced) return std::unexpected(priced.error());
  const auto& pricing = priced->pricing;

  auto pushes = denylist::PushStore::open(o.data_dir / "pushes.db");
  if (!pushes) return std::unexpected(pushes.error());
  auto deny = PushStoreDenyList::load(**pushes);
  if (!deny) return std::unexpected(deny.error());

  FareRunSummary s;
  s.currency = std::string(policy.currency.str());
  fares::LocalClock clock(policy.time_zones.empty() ? nullptr : &policy.time_zones.front());
  s.today = clock.service_day(o.now_ms, o.service_day_start_s);
  s.cards_identified = identifier.identified();

  // 1. Account verification on a token's first tap.
  std::vector<fares::CardToken> tokens;
  for (const auto& d : pricing.days) {
    if (tokens.empty() || !(tokens.back() == d.card)) tokens.push_back(d.card);
  }
  const std::size_t listed_before = deny->pending_additions();
  auto verified = ledger->verify_new_tokens(tokens, acquirer, *deny, o.now_ms);
  if (!verified) return std::unexpected(verified.error());
  s.verifications = *verified;
  tokens = {};  // not needed any more; memory peaks later in the run
  s.verifications_declined = deny->pending_additions() - listed_before;
  // 2. Priced card-days.
  auto recorded = ledger->record(pricing);
  if (!recorded) return std::unexpected(recorded.error());
  s.recorded = *recorded;
  // 3. What is due.
  s.submitted = ledger->submit_due(acquirer, *deny, s.today, o.now_ms);
  // 5. Settlement of what was approved now (earlier approvals were settled by earlier runs).
  const auto settlement = ledger->match_settlement(acquirer.settle());
  s.settled_now = settlement.matched.size();
  s.unsettled = settlement.unsettled.size();

  // 4. The deny list first, then the ledger (see the header: no decline is lost).
  s.deny_list_added = deny->pending_additions();
  s.deny_list_removed = deny->pending_removals();
  auto version = deny->flush();
  if (!version) return std::unexpected(version.error());
  s.deny_list_version = *version;
  s.deny_list_size = deny->size();
  // The ledger is written and committed on a thread of its own while the reconciliation (which
  // only reads the ledger in memory) runs here: the commit's writes and syncs overlap the
  // checks. The summary is returned only once the commit succeeded.
  Status written;
  std::optional<recon::ReconReport> reconciled;
  {
    std::jthread writer([&, snapshot = ledger->snapshot()] {
      written = (*ledger_store)->save(snapshot);
      if (written) written = (*ledger_store)->commit();
    });
    recon::ReconInput input;
    input.policy = &policy;
    input.taps = priced->book.get();
    input.devices = priced->devices;
    input.pricing = &pricing;
    input.ledger = &*ledger;
    input.settlement = &settlement;
    input.deny_list = &*deny;
    input.charge_rows = false;  // the summary needs the totals and the discrepancies only
    reconciled = recon::reconcile(input);
  }
  if (!written) return std::unexpected(written.error());
  s.ledger_runs = run->previous_runs + 1;
  const recon::ReconReport& report = *reconciled;
  const auto& t = report.totals;
  s.taps_received = t.taps_received;
  s.taps_priced = t.taps_priced;
  s.taps_denied = t.taps_denied;
  s.legs = t.legs;
  s.orphan_taps = t.orphan_taps;
  s.card_days = pricing.days.size();
  s.capped_card_days = t.capped_card_days;
  s.concessions = tally_concession_days(policy, pricing);
  s.revenue = t.revenue;
  s.transfer_discounts = t.transfer_discounts;
  s.cap_discounts = t.cap_discounts;
  s.approved_amount = t.approved;
  s.refunded_amount = t.refunded;
  s.outstanding_debt = t.outstanding_debt;
  s.balanced = report.balanced;
  for (const auto& d : report.discrepancies) {
    if (s.discrepancies.size() == 20) break;
    s.discrepancies.push_back(d.check + " " + d.where + ": " + d.detail);
  }
  return s;
}

nlohmann::ordered_json to_json(const FareRunSummary& s) {
  nlohmann::ordered_json j;
  j["currency"] = s.currency;
  j["today"] = fares::format_date(s.today);
  j["ledger_runs"] = s.ledger_runs;
  j["taps"] = {{"received", s.taps_received}, {"priced", s.taps_priced}, {"denied", s.taps_denied},
               {"orphans", s.orphan_taps}};
  j["legs"] = s.legs;
  j["card_days"] = s.card_days;
  j["revenue"] = s.revenue;
  j["transfer_discounts"] = s.transfer_discounts;
  j["cap_discounts"] = s.cap_discounts;
  j["caps_applied"] = s.capped_card_days;
  j["concessions"] = nlohmann::ordered_json::array();
  for (const auto& c : s.concessions) {
    j["concessions"].push_back(
        {{"rider_category", c.rider_category}, {"card_days", c.card_days}, {"revenue", c.revenue}});
  }
  j["ledger"] = {{"new_days", s.recorded.new_days},
                 {"unchanged_days", s.recorded.unchanged_days},
                 {"changed_days", s.recorded.changed_days},
                 {"adjustments", s.recorded.adjustments}};
  j["verifications"] = {{"made", s.verifications}, {"declined", s.verifications_declined},
                        {"cards_identified", s.cards_identified}};
  j["submitted"] = {{"approved", s.submitted.approved},     {"declined", s.submitted.declined},
                    {"resubmitted", s.submitted.resubmitted}, {"exhausted", s.submitted.exhausted},
                    {"acquirer_errors", s.submitted.acquirer_errors}};
  j["approved_amount"] = s.approved_amount;
  j["refunded_amount"] = s.refunded_amount;
  j["outstanding_debt"] = s.outstanding_debt;
  j["settlement"] = {{"settled_now", s.settled_now}, {"unsettled", s.unsettled}};
  j["deny_list"] = {{"version", s.deny_list_version}, {"size", s.deny_list_size},
                    {"added", s.deny_list_added}, {"removed", s.deny_list_removed}};
  j["balanced"] = s.balanced;
  j["discrepancies"] = s.discrepancies;
  return j;
}

std::string format_summary(const FareRunSummary& s) {
  fares::CurrencyCode currency;
  if (auto c = fares::CurrencyCode::parse(s.currency)) currency = *c;
  auto money = [&](std::int64_t minor) { return fares::format_amount(minor, currency) + " " + s.currency; };
  std::string out;
  out += fmt::format("fare run {} (made during service day {}, over every stored tap):\n", s.ledger_runs,
                     fares::format_date(s.today));
  out += fmt::format("  taps: {} received, {} priced, {} denied at the gate, {} orphan\n", s.taps_received,
                     s.taps_priced, s.taps_denied, s.orphan_taps);
  out += fmt::format("  legs: {} over {} card-days\n", s.legs, s.card_days);
  out += fmt::format("  revenue: {} (transfer discounts {}, cap discounts {}, caps applied on {} card-days)\n",
                     money(s.revenue), money(s.transfer_discounts), money(s.cap_discounts), s.capped_card_days);
  std::uint64_t concession_days = 0;
  std::int64_t concession_revenue = 0;
  std::string by_category;
  for (const auto& c : s.concessions) {
    concession_days += c.card_days;
    concession_revenue += c.revenue;
    by_category += fmt::format("{}{} {}", by_category.empty() ? " (" : ", ", c.rider_category, c.card_days);
  }
  if (!by_category.empty()) by_category += ")";
  out += fmt::format("  concessions: {} card-days at a concession fare{}, {}\n", concession_days, by_category,
                     money(concession_revenue));
  out += fmt::format("  payments: {} verifications ({} declined), {} approved, {} declined, {} resubmitted, "
                     "{} adjustments; approved {}, outstanding debt {}\n",
                     s.verifications, s.verifications_declined, s.submitted.approved, s.submitted.declined,
                     s.submitted.resubmitted, s.recorded.adjustments, money(s.approved_amount),
                     money(s.outstanding_debt));
  out += fmt::format("  deny list: version {}, {} tokens (+{} -{} this run)\n", s.deny_list_version,
                     s.deny_list_size, s.deny_list_added, s.deny_list_removed);
  out += fmt::format("  reconciliation: {}\n", s.balanced ? "balances to the cent"
                                                          : fmt::format("DOES NOT BALANCE ({} discrepancies)",
                                                                        s.discrepancies.size()));
  for (const auto& d : s.discrepancies) out += "    " + d + "\n";
  return out;
}

Result<PayDebtOutcome> pay_debt(const std::filesystem::path& data_dir, const fares::CardToken& token) {
  auto ledger_store = payments::LedgerStore::open(data_dir / "payments.db");
  if (!ledger_store) return std::unexpected(ledger_store.error());
  auto run = (*ledger_store)->begin_run();
  if (!run) return std::unexpected(run.error());
  if (!run->snapshot) return make_error(ErrorCode::kNotFound, "the payments ledger is empty (no fare run yet)");
  auto ledger = payments::PaymentsLedger::restore(*run->snapshot, {});
  if (!ledger) return std::unexpected(ledger.error());
  PayDebtOutcome out;
  out.currency = std::string(ledger->currency().str());
  out.paid = ledger->outstanding_debt(token);
  for (const auto& c : ledger->charges()) {
    out.charges += c.token == token && (c.state == payments::ChargeState::kDeclined ||
                                        c.state == payments::ChargeState::kOutstanding);
  }
  auto pushes = denylist::PushStore::open(data_dir / "pushes.db");
  if (!pushes) return std::unexpected(pushes.error());
  auto deny = PushStoreDenyList::load(**pushes);
  if (!deny) return std::unexpected(deny.error());
  ledger->rider_paid(token, *deny);
  out.lifted = deny->pending_removals() > 0;
  auto version = deny->flush();
  if (!version) return std::unexpected(version.error());
  out.deny_list_version = *version;
  if (auto saved = (*ledger_store)->save(ledger->snapshot()); !saved) return std::unexpected(saved.error());
  if (auto committed = (*ledger_store)->commit(); !committed) return std::unexpected(committed.error());
  return out;
}

}  // namespace faregate::billing
