#include "simulator/network/network_run.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include <fmt/format.h>

#include "backoffice/store/sqlite_tap_store.h"
#include "common/crypto.h"
#include "hal/sim/manual_clock.h"
#include "hal/sim/static_key_store.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/network/rider_plan.h"
#include "simulator/network/virtual_validator.h"

namespace faregate::simulator {

namespace {

constexpr std::int64_t kMinuteMs = 60'000;

struct Network {
  std::vector<std::unique_ptr<VirtualValidator>> validators;
  std::vector<DeviceTally> tallies;
};

void sync_all(Network& net, RunReport& report, int attempts) {
  for (auto& v : net.validators) {
    for (int attempt = 1; attempt <= attempts; ++attempt) {
      ++report.sync_sessions;
      auto r = v->sync();
      if (r) break;
      ++report.sync_failures;
    }
  }
}

}  // namespace

Bytes simulated_card_token_key(std::uint64_t seed) {
  auto drbg = crypto::Drbg::deterministic(seed ^ 0x746f6b656e6b6579ULL);
  auto key = drbg.bytes(32);
  return key ? *key : Bytes(32, 0x5a);
}

Result<RunReport> run_network(const Scenario& scenario, const RunOptions& options) {
  const auto wall_start = std::chrono::steady_clock::now();
  RunReport report;
  report.scenario = scenario.name;

  const NetworkPlan plan = plan_network(scenario);
  report.validators = plan.validators.size();
  report.riders = plan.riders.size();
  report.trips = plan.trips;
  report.forgotten_tap_outs = plan.forgotten_tap_outs;

  // Expected outcome per card kind, and one card per rider for the whole day.
  std::map<std::string, bool> expect_accept;
  for (const auto& kind : card_kinds()) expect_accept[kind.name] = kind.expect == "accept";
  std::vector<std::shared_ptr<hal::sim::ContactlessCard>> cards;
  cards.reserve(plan.riders.size());
  for (const auto& rider : plan.riders) {
    if (!expect_accept.contains(rider.card_kind)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "riders.cards: unknown card kind '" + rider.card_kind +
                            "' (faregate-sim cards lists them)");
    }
    auto card = make_card(rider.card_kind, rider.card_seed);
    if (!card) return std::unexpected(card.error());
    cards.push_back(std::move(*card));
  }

  hal::sim::ManualClock clock(scenario.day_start_utc_ms);
  hal::sim::StaticKeyStore keys(simulated_card_token_key(scenario.seed));
  Network net;
  for (const auto& spec : plan.validators) {
    tap::TapPipelineConfig pc;
    pc.device_id = spec.device_id;
    pc.stop_id = spec.stop_id;
    pc.role = spec.entry ? faregate::v1::VALIDATOR_ROLE_ENTRY : faregate::v1::VALIDATOR_ROLE_EXIT;
    pc.firmware_version = "sim";
    sync::SyncOptions so;
    so.host = options.backoffice_host;
    so.port = options.backoffice_port;
    so.batch_taps = static_cast<std::size_t>(scenario.batch_taps);
    so.firmware_version = "sim";
    so.reader_status = [] { return std::string("ok"); };
    so.now_utc_ms = [&clock] { return clock.utc_ms(); };
    auto v = VirtualValidator::create(options.work_dir / "validators" / spec.device_id / "journal.db",
                                      pc, so, clock, keys);
    if (!v) return with_context(v.error(), "validator " + spec.device_id);
    net.validators.push_back(std::move(*v));
    net.tallies.push_back(DeviceTally{spec.device_id});
  }

  const std::int64_t sync_every = scenario.sync_every_minutes * kMinuteMs;
  std::int64_t next_sync = scenario.day_start_utc_ms + sync_every;
  std::size_t next_progress = 1;
  for (std::size_t i = 0; i < plan.taps.size(); ++i) {
    const TapEvent& event = plan.taps[i];
    while (event.time_utc_ms >= next_sync) {
      clock.advance_ms(next_sync - clock.utc_ms());
      sync_all(net, report, 1);
      next_sync += sync_every;
    }
    clock.advance_ms(event.time_utc_ms - clock.utc_ms());

    ++report.taps_presented;
    auto outcome = net.validators[event.validator]->present(cards[event.rider]);
    if (!outcome) {
      // A tap the pipeline could not journal: counted as unexpected; the rider would tap again.
      ++report.unexpected_decisions;
      continue;
    }
    report.processing_us_total += static_cast<std::uint64_t>(outcome->processing.count());
    report.radio_model_us_total += static_cast<std::uint64_t>(
        net.validators[event.validator]->reader().air_time_this_tap().count());
    const auto& record = outcome->record;
    const bool accepted = record.decision() == faregate::v1::DECISION_ACCEPT;
    if (accepted) {
      ++report.accepted;
      ++net.tallies[event.validator].accepted;
    } else {
      ++report.denied;
      ++report.deny_reasons[record.reason()];
    }
    if (accepted != expect_accept[plan.riders[event.rider].card_kind]) ++report.unexpected_decisions;

    if (options.progress && i + 1 >= next_progress * plan.taps.size() / 10) {
      options.progress(fmt::format("{:3}% of the day: {} taps, {} accepted, {} denied",
                                   next_progress * 10, report.taps_presented, report.accepted,
                                   report.denied));
      ++next_progress;
    }
  }
  clock.advance_ms(std::max<std::int64_t>(scenario.day_end_utc_ms - clock.utc_ms(), 0));
  // End of day: every validator syncs; a second round checks that nothing is left and reads
  // back each device's watermark from the back office.
  sync_all(net, report, 3);
  for (std::size_t v = 0; v < net.validators.size(); ++v) {
    auto& validator = *net.validators[v];
    auto& tally = net.tallies[v];
    auto stats = validator.journal().stats();
    if (!stats) return std::unexpected(stats.error());
    tally.journaled = stats->last_seq;
    tally.gate_opened = validator.gate().times_opened();
    ++report.sync_sessions;
    auto check = validator.sync();
    if (check) {
      tally.stored_through = check->acknowledged_through;
    } else {
      ++report.sync_failures;
    }
    report.taps_journaled += tally.journaled;
    report.taps_missing += tally.journaled - std::min(tally.journaled, tally.stored_through);
    if (tally.gate_opened != tally.accepted) ++report.gate_mismatches;
  }
  report.devices = net.tallies;

  if (!options.backoffice_store.empty()) {
    auto store = store::SqliteTapStore::open(options.backoffice_store);
    if (!store) return with_context(store.error(), "reading the back-office store");
    auto count = (*store)->tap_count();
    if (!count) return std::unexpected(count.error());
    report.taps_stored = *count;
    auto conflicts = (*store)->conflicts();
    if (!conflicts) return std::unexpected(conflicts.error());
    report.conflicts = conflicts->size();
  } else {
    // Without the store file, the watermarks are the evidence: contiguous through the last seq.
    report.taps_stored = report.taps_journaled - report.taps_missing;
  }
  report.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return report;
}

std::string format_report(const RunReport& r) {
  std::ostringstream out;
  out << fmt::format("scenario {}: {} validators, {} riders, {} trips ({} without tap-out)\n",
                     r.scenario.empty() ? "(unnamed)" : r.scenario, r.validators, r.riders, r.trips,
                     r.forgotten_tap_outs);
  out << fmt::format("taps made:        {} ({} accepted, {} denied)\n", r.taps_presented,
                     r.accepted, r.denied);
  for (const auto& [reason, n] : r.deny_reasons) {
    out << fmt::format("  denied {:<24} {}\n", reason + ":", n);
  }
  out << fmt::format("taps journaled:   {}\n", r.taps_journaled);
  out << fmt::format("taps in back office: {}\n", r.taps_stored);
  out << fmt::format("missing:          {}\n", r.taps_missing);
  out << fmt::format("conflicts:        {}\n", r.conflicts);
  out << fmt::format("unexpected decisions: {}, gate mismatches: {}\n", r.unexpected_decisions,
                     r.gate_mismatches);
  if (r.taps_presented > 0) {
    const auto n = static_cast<double>(r.taps_presented);
    out << fmt::format("per tap (mean):   {:.0f} us processing + {:.0f} us modelled radio at 106 kbit/s\n",
                       static_cast<double>(r.processing_us_total) / n,
                       static_cast<double>(r.radio_model_us_total) / n);
  }
  out << fmt::format("sync sessions:    {} ({} failed and retried)\n", r.sync_sessions,
                     r.sync_failures);
  out << "per device (last seq journaled / back office holds through):\n";
  for (const auto& d : r.devices) {
    out << fmt::format("  {:<24} {:>6} / {:<6}{}\n", d.device_id, d.journaled, d.stored_through,
                       d.journaled == d.stored_through ? "" : "  <- MISSING");
  }
  out << fmt::format("wall time:        {:.2f} s ({:.0f} taps/s)\n", r.wall_seconds,
                     r.wall_seconds > 0 ? static_cast<double>(r.taps_presented) / r.wall_seconds : 0.0);
  out << (r.ok() ? "result: OK, every tap accounted for\n" : "result: FAILED\n");
  return out.str();
}

std::string report_json(const RunReport& r) {
  nlohmann::json j;
  j["scenario"] = r.scenario;
  j["validators"] = r.validators;
  j["riders"] = r.riders;
  j["trips"] = r.trips;
  j["forgotten_tap_outs"] = r.forgotten_tap_outs;
  j["taps_presented"] = r.taps_presented;
  j["taps_journaled"] = r.taps_journaled;
  j["accepted"] = r.accepted;
  j["denied"] = r.denied;
  j["deny_reasons"] = r.deny_reasons;
  j["taps_stored"] = r.taps_stored;
  j["taps_missing"] = r.taps_missing;
  j["conflicts"] = r.conflicts;
  j["unexpected_decisions"] = r.unexpected_decisions;
  j["gate_mismatches"] = r.gate_mismatches;
  j["processing_us_total"] = r.processing_us_total;
  j["radio_model_us_total"] = r.radio_model_us_total;
  j["sync_sessions"] = r.sync_sessions;
  j["sync_failures"] = r.sync_failures;
  j["wall_seconds"] = r.wall_seconds;
  j["ok"] = r.ok();
  auto& devices = j["devices"] = nlohmann::json::array();
  for (const auto& d : r.devices) {
    devices.push_back({{"device_id", d.device_id},
                       {"journaled", d.journaled},
                       {"stored_through", d.stored_through},
                       {"accepted", d.accepted},
                       {"gate_opened", d.gate_opened}});
  }
  return j.dump();
}

}  // namespace faregate::simulator
