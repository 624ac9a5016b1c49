#pragma once
// Reconciliation: every tap to a leg (or an orphan, listed), every leg to a fare, every fare to
// a charge, every charge to an authorization and a settlement, to the cent. reconcile() checks
// and lists each place where the numbers do not agree; `balanced` is true only when none does.
//
// Checks:
//  - tap accounting: records received = priced + denied + without card token; every priced tap
//    is in a leg, an orphan, or a duplicate (the engine's count);
//  - per card-day: sum of leg charges = day total = fares - transfer discount - cap discount;
//  - with a payments ledger: each priced card-day is held by the ledger with the same total
//    (else: not yet charged, or re-pricing not recorded); per card token, charges + extra
//    charges - refunds (cancelled excluded) = the ledger's day totals;
//  - with a settlement report: every approved charge or refund is settled with its amount;
//    references the ledger does not know are listed.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backoffice/fares/fare_engine.h"
#include "backoffice/payments/payments_ledger.h"
#include "backoffice/recon/tap_book.h"

namespace faregate::recon {

// What the tap store knows of a device (store::DeviceSummary and its conflicts).
struct DeviceInput {
  std::string device_id;
  std::uint64_t stored_through_seq = 0;
  std::uint64_t max_seq = 0;
  std::uint64_t tap_count = 0;
  std::uint64_t missing = 0;    // sequence gaps: seqs below max_seq not held
  std::uint64_t conflicts = 0;  // same (device, seq) received with different content
};

struct ReconInput {
  const fares::FarePolicy* policy = nullptr;
  const TapBook* taps = nullptr;
  std::span<const DeviceInput> devices;
  const fares::PricingResult* pricing = nullptr;
  const payments::PaymentsLedger* ledger = nullptr;            // optional
  const payments::SettlementReport* settlement = nullptr;      // optional
  const payments::DenyList* deny_list = nullptr;               // optional
  // False: ReconReport::charges is left empty (the checks and totals are the same). A fare run
  // over a million cards needs the totals, not a million report rows.
  bool charge_rows = true;
};

struct DeviceRow {
  std::string device_id;
  std::uint64_t taps_stored = 0, stored_through_seq = 0, max_seq = 0, sequence_gaps = 0, conflicts = 0;
};

struct DeviceDayRow {
  std::string device_id;
  std::int32_t service_day = 0;
  DeviceDayCount count;
};

struct DayRow {
  std::int32_t service_day = 0;
  std::uint64_t cards = 0, legs = 0, orphan_taps = 0, unpriced_legs = 0, maximum_fare_legs = 0, capped_cards = 0;
  std::int64_t fare_total = 0, transfer_discount = 0, cap_discount = 0, revenue = 0;
  std::optional<std::int64_t> ledger_total;  // what the payments ledger holds for the day
};

struct OrphanRow {
  std::string card_hex, device_id;
  std::uint64_t seq = 0;
  std::int64_t utc_ms = 0;
  std::int32_t service_day = 0;
  std::string reason;
};

struct ChargeRow {
  std::string reference, kind, state, card_hex, authorization_id, response_code;
  std::int32_t first_day = 0, last_day = 0, attempts = 0;
  std::int64_t amount = 0;
  bool settled = false;
};

struct Discrepancy {
  std::string check;  // "books", "tap_accounting", "ledger_day", "ledger_token", "settlement"
  std::string where;  // card-day, device, charge reference
  std::string detail;
};

struct Totals {
  std::uint64_t taps_received = 0, taps_denied = 0, taps_priced = 0, duplicate_taps = 0, legs = 0, orphan_taps = 0,
                sequence_gaps = 0, conflicts = 0, capped_card_days = 0, declined_charges = 0, deny_list_size = 0;
  std::int64_t revenue = 0, transfer_discounts = 0, cap_discounts = 0, approved = 0, refunded = 0,
               outstanding_debt = 0, settled = 0;
};

struct ReconReport {
  std::string currency;
  std::vector<DeviceRow> devices;
  std::vector<DeviceDayRow> device_days;
  std::vector<DayRow> days;
  std::vector<OrphanRow> orphans;
  std::vector<ChargeRow> charges;
  std::vector<Discrepancy> discrepancies;
  Totals totals;
  bool balanced = true;
};

// Requires: policy, taps and pricing set; pricing = FareEngine::price(taps->taps(), ...).
ReconReport reconcile(const ReconInput& input);

nlohmann::ordered_json to_json(const ReconReport& report);
// One CSV table: section is "days", "devices", "device_days", "orphans", "charges" or
// "discrepancies". Amounts in minor units. Unknown section: empty string.
std::string to_csv(const ReconReport& report, std::string_view section);

}  // namespace faregate::recon
