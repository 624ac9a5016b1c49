#include "backoffice/recon/reconciliation.h"

#include <map>

#include "backoffice/fares/local_time.h"

namespace faregate::recon {

namespace {

std::string card_day(const fares::CardToken& card, std::int32_t day) {
  return card.hex() + "@" + fares::format_date(day);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

ReconReport reconcile(const ReconInput& in) {
  ReconReport r;
  const fares::FarePolicy& policy = *in.policy;
  const fares::PricingResult& pricing = *in.pricing;
  r.currency = std::string(policy.currency.empty() ? "" : policy.currency.str());
  auto flag = [&](std::string check, std::string where, std::string detail) {
    r.discrepancies.push_back({std::move(check), std::move(where), std::move(detail)});
    r.balanced = false;
  };

  // Devices: what the store holds.
  for (const auto& d : in.devices) {
    r.devices.push_back({d.device_id, d.tap_count, d.stored_through_seq, d.max_seq, d.missing, d.conflicts});
    r.totals.sequence_gaps += d.missing;
    r.totals.conflicts += d.conflicts;
  }
  std::uint64_t bad_card = 0;
  for (const auto& [key, count] : in.taps->counts()) {
    r.device_days.push_back({in.taps->device_ids()[key.first], key.second, count});
    r.totals.taps_received += count.received;
    r.totals.taps_denied += count.denied;
    bad_card += count.bad_card;
  }
  r.totals.taps_priced = in.taps->taps().size();
  r.totals.duplicate_taps = pricing.duplicate_taps;
  if (r.totals.taps_received != r.totals.taps_priced + r.totals.taps_denied + bad_card) {
    flag("tap_accounting", "all devices",
         std::to_string(r.totals.taps_received) + " records received but " + std::to_string(r.totals.taps_priced) +
             " priced + " + std::to_string(r.totals.taps_denied) + " denied + " + std::to_string(bad_card) +
             " without card token");
  }
  if (pricing.taps != r.totals.taps_priced) {
    flag("tap_accounting", "fare engine",
         "engine saw " + std::to_string(pricing.taps) + " taps, " + std::to_string(r.totals.taps_priced) + " given");
  }
  if (bad_card > 0) flag("tap_accounting", "all devices", std::to_string(bad_card) + " accepted taps without a usable card token");

  // Card-days: the books of each, and the day rows.
  std::map<std::int32_t, DayRow> days;
  fares::LocalClock clock(&policy.time_zones[0]);
  for (const auto& d : pricing.days) {
    DayRow& row = days[d.service_day];
    row.service_day = d.service_day;
    ++row.cards;
    row.legs += d.leg_count;
    row.orphan_taps += d.orphan_count;
    row.unpriced_legs += d.unpriced_legs;
    row.maximum_fare_legs += d.maximum_fare_legs;
    row.fare_total += d.fare_total;
    row.transfer_discount += d.transfer_discount;
    row.cap_discount += d.cap_discount;
    row.revenue += d.total;
    if (d.cap_discount != 0) ++row.capped_cards;
    std::int64_t charged = 0;
    for (const auto& leg : pricing.legs_of(d)) charged += leg.charged;
    if (charged != d.total || d.total != d.fare_total - d.transfer_discount - d.cap_discount) {
      flag("books", card_day(d.card, d.service_day),
           "legs charge " + std::to_string(charged) + ", day total " + std::to_string(d.total) + ", fares " +
               std::to_string(d.fare_total) + " - transfers " + std::to_string(d.transfer_discount) + " - caps " +
               std::to_string(d.cap_discount));
    }
    if (d.unpriced_legs > 0) {
      flag("books", card_day(d.card, d.service_day), std::to_string(d.unpriced_legs) + " leg(s) with no fare in the policy");
    }
    for (const auto& o : pricing.orphans_of(d)) {
      const fares::Tap& t = in.taps->taps()[o.tap];
      r.orphans.push_back({d.card.hex(), in.taps->device_ids()[t.device], t.seq, t.utc_ms, d.service_day,
                           fares::to_string(o.reason)});
    }
    if (in.ledger != nullptr) {
      const auto held = in.ledger->day_total(d.card, d.service_day);
      row.ledger_total = row.ledger_total.value_or(0) + held.value_or(0);
      if (!held) {
        flag("ledger_day", card_day(d.card, d.service_day), "priced " + std::to_string(d.total) + " but not in the payments ledger");
      } else if (*held != d.total) {
        flag("ledger_day", card_day(d.card, d.service_day),
             "priced " + std::to_string(d.total) + " but the ledger charged for " + std::to_string(*held));
      }
    }
    r.totals.legs += d.leg_count;
    r.totals.orphan_taps += d.orphan_count;
    r.totals.revenue += d.total;
    r.totals.transfer_discounts += d.transfer_discount;
    r.totals.cap_discounts += d.cap_discount;
    if (d.cap_discount != 0) ++r.totals.capped_card_days;
  }
  for (auto& [day, row] : days) r.days.push_back(row);

  // Charges: per token, what was asked for must equal what the ledger holds for its days.
  if (in.ledger != nullptr) {
    std::map<fares::CardToken, std::int64_t> asked, held;
    for (const auto& c : in.ledger->charges()) {
      if (in.charge_rows) r.charges.push_back({c.reference, payments::to_string(c.kind), payments::to_string(c.state), c.token.hex(),
                           c.authorization_id, c.response_code, c.first_day, c.last_day, c.attempts, c.amount,
                           c.settled});
      if (c.state != payments::ChargeState::kCancelled) {
        asked[c.token] += c.kind == payments::ChargeKind::kRefund ? -c.amount : c.amount;
      }
      if (c.state == payments::ChargeState::kApproved) {
        if (c.kind == payments::ChargeKind::kRefund) {
          r.totals.refunded += c.amount;
        } else {
          r.totals.approved += c.amount;
        }
        if (c.settled) r.totals.settled += c.kind == payments::ChargeKind::kRefund ? -c.amount : c.amount;
      }
      if (c.state == payments::ChargeState::kDeclined || c.state == payments::ChargeState::kOutstanding) {
        ++r.totals.declined_charges;
        r.totals.outstanding_debt += c.amount;
      }
      if (!held.contains(c.token)) held[c.token] = 0;
    }
    // The ledger's day totals of each token, over every day priced here.
    for (const auto& d : pricing.days) {
      if (auto it = held.find(d.card); it != held.end()) it->second += in.ledger->day_total(d.card, d.service_day).value_or(0);
    }
    for (auto& [token, sum] : held) {
      if (sum != asked[token]) {
        flag("ledger_token", token.hex(),
             "charges, extra charges and refunds add up to " + std::to_string(asked[token]) +
                 " but the card-days hold " + std::to_string(sum));
      }
    }
  }
  if (in.settlement != nullptr) {
    for (const auto& ref : in.settlement->unsettled) flag("settlement", ref, "approved but not in any settlement file");
    for (const auto& ref : in.settlement->amount_mismatches) flag("settlement", ref, "settled with another amount, kind or authorization");
    for (const auto& ref : in.settlement->unknown_references) flag("settlement", ref, "settled but unknown to the ledger");
  }
  for (const auto& d : r.devices) {
    if (d.sequence_gaps > 0) flag("tap_accounting", d.device_id, std::to_string(d.sequence_gaps) + " sequence number(s) missing");
    if (d.conflicts > 0) flag("tap_accounting", d.device_id, std::to_string(d.conflicts) + " conflicting record(s)");
  }
  if (in.deny_list != nullptr) r.totals.deny_list_size = in.deny_list->size();
  return r;
}

nlohmann::ordered_json to_json(const ReconReport& report) {
  using Json = nlohmann::ordered_json;
  Json o;
  o["balanced"] = report.balanced;
  o["currency"] = report.currency;
  const Totals& t = report.totals;
  o["totals"] = Json{{"taps_received", t.taps_received}, {"taps_denied", t.taps_denied},
                     {"taps_priced", t.taps_priced},     {"duplicate_taps", t.duplicate_taps},
                     {"legs", t.legs},                   {"orphan_taps", t.orphan_taps},
                     {"sequence_gaps", t.sequence_gaps}, {"conflicts", t.conflicts},
                     {"revenue", t.revenue},             {"transfer_discounts", t.transfer_discounts},
                     {"cap_discounts", t.cap_discounts}, {"capped_card_days", t.capped_card_days},
                     {"approved", t.approved},           {"refunded", t.refunded},
                     {"settled", t.settled},             {"declined_charges", t.declined_charges},
                     {"outstanding_debt", t.outstanding_debt}, {"deny_list_size", t.deny_list_size}};
  Json days = Json::array();
  for (const auto& d : report.days) {
    Json row{{"service_day", fares::format_date(d.service_day)}, {"cards", d.cards}, {"legs", d.legs},
             {"orphan_taps", d.orphan_taps}, {"unpriced_legs", d.unpriced_legs},
             {"maximum_fare_legs", d.maximum_fare_legs}, {"fare_total", d.fare_total},
             {"transfer_discount", d.transfer_discount}, {"cap_discount", d.cap_discount},
             {"capped_cards", d.capped_cards}, {"revenue", d.revenue}};
    row["ledger_total"] = d.ledger_total ? Json(*d.ledger_total) : Json(nullptr);
    days.push_back(std::move(row));
  }
  o["days"] = std::move(days);
  Json devices = Json::array();
  for (const auto& d : report.devices) {
    devices.push_back(Json{{"device_id", d.device_id}, {"taps_stored", d.taps_stored},
                           {"stored_through_seq", d.stored_through_seq}, {"max_seq", d.max_seq},
                           {"sequence_gaps", d.sequence_gaps}, {"conflicts", d.conflicts}});
  }
  o["devices"] = std::move(devices);
  Json device_days = Json::array();
  for (const auto& d : report.device_days) {
    device_days.push_back(Json{{"device_id", d.device_id}, {"service_day", fares::format_date(d.service_day)},
                               {"received", d.count.received}, {"denied", d.count.denied}});
  }
  o["device_days"] = std::move(device_days);
  Json orphans = Json::array();
  for (const auto& x : report.orphans) {
    orphans.push_back(Json{{"card", x.card_hex}, {"device_id", x.device_id}, {"seq", x.seq},
                           {"service_day", fares::format_date(x.service_day)}, {"reason", x.reason}});
  }
  o["orphan_taps"] = std::move(orphans);
  Json charges = Json::array();
  for (const auto& c : report.charges) {
    charges.push_back(Json{{"reference", c.reference}, {"kind", c.kind}, {"state", c.state}, {"card", c.card_hex},
                           {"first_day", fares::format_date(c.first_day)}, {"last_day", fares::format_date(c.last_day)},
                           {"amount", c.amount}, {"attempts", c.attempts}, {"authorization_id", c.authorization_id},
                           {"response_code", c.response_code}, {"settled", c.settled}});
  }
  o["charges"] = std::move(charges);
  Json discrepancies = Json::array();
  for (const auto& d : report.discrepancies) {
    discrepancies.push_back(Json{{"check", d.check}, {"where", d.where}, {"detail", d.detail}});
  }
  o["discrepancies"] = std::move(discrepancies);
  return o;
}

std::string to_csv(const ReconReport& report, std::string_view section) {
  std::string out;
  auto line = [&](std::initializer_list<std::string> fields) {
    bool first = true;
    for (const auto& f : fields) {
      if (!first) out += ',';
      out += csv_field(f);
      first = false;
    }
    out += '\n';
  };
  using std::to_string;
  if (section == "days") {
    line({"service_day", "cards", "legs", "orphan_taps", "unpriced_legs", "maximum_fare_legs", "fare_total",
          "transfer_discount", "cap_discount", "capped_cards", "revenue", "ledger_total", "currency"});
    for (const auto& d : report.days) {
      line({fares::format_date(d.service_day), to_string(d.cards), to_string(d.legs), to_string(d.orphan_taps),
            to_string(d.unpriced_legs), to_string(d.maximum_fare_legs), to_string(d.fare_total),
            to_string(d.transfer_discount), to_string(d.cap_discount), to_string(d.capped_cards), to_string(d.revenue),
            d.ledger_total ? to_string(*d.ledger_total) : "", report.currency});
    }
  } else if (section == "devices") {
    line({"device_id", "taps_stored", "stored_through_seq", "max_seq", "sequence_gaps", "conflicts"});
    for (const auto& d : report.devices) {
      line({d.device_id, to_string(d.taps_stored), to_string(d.stored_through_seq), to_string(d.max_seq),
            to_string(d.sequence_gaps), to_string(d.conflicts)});
    }
  } else if (section == "device_days") {
    line({"device_id", "service_day", "received", "denied"});
    for (const auto& d : report.device_days) {
      line({d.device_id, fares::format_date(d.service_day), to_string(d.count.received), to_string(d.count.denied)});
    }
  } else if (section == "orphans") {
    line({"card", "device_id", "seq", "service_day", "reason"});
    for (const auto& x : report.orphans) {
      line({x.card_hex, x.device_id, to_string(x.seq), fares::format_date(x.service_day), x.reason});
    }
  } else if (section == "charges") {
    line({"reference", "kind", "state", "card", "first_day", "last_day", "amount", "currency", "attempts",
          "authorization_id", "response_code", "settled"});
    for (const auto& c : report.charges) {
      line({c.reference, c.kind, c.state, c.card_hex, fares::format_date(c.first_day), fares::format_date(c.last_day),
            to_string(c.amount), report.currency, to_string(c.attempts), c.authorization_id, c.response_code,
            c.settled ? "1" : "0"});
    }
  } else if (section == "discrepancies") {
    line({"check", "where", "detail"});
    for (const auto& d : report.discrepancies) line({d.check, d.where, d.detail});
  }
  return out;
}

}  // namespace faregate::recon
