#include "simulator/app/commands.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "backoffice/billing/fare_run.h"
#include "backoffice/fares/entitlement_registry.h"
#include "backoffice/fares/gtfs_fares_loader.h"
#include "backoffice/fares/local_time.h"
#include "firmware/journal/journal.h"
#include "firmware/tap/tap_pipeline.h"
#include "hal/linux/system_clock.h"
#include "hal/sim/sim_gate.h"
#include "hal/sim/sim_nfc_reader.h"
#include "hal/sim/static_key_store.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/cards/transcript_card.h"
#include "simulator/network/backoffice_process.h"
#include "simulator/network/demo_fares.h"
#include "simulator/network/network_run.h"
#include "simulator/network/scenario.h"
#include "simulator/network/simulated_keys.h"

namespace faregate::simulator {

namespace {

std::string_view scheme_name(faregate::v1::CardScheme scheme) {
  switch (scheme) {
    case faregate::v1::CARD_SCHEME_VISA: return "visa";
    case faregate::v1::CARD_SCHEME_MASTERCARD: return "mastercard";
    case faregate::v1::CARD_SCHEME_MAESTRO: return "maestro";
    case faregate::v1::CARD_SCHEME_AGENCY: return "agency";
    case faregate::v1::CARD_SCHEME_OTHER: return "other";
    default: return "unknown";
  }
}

std::string_view oda_name(faregate::v1::OdaResult oda) {
  switch (oda) {
    case faregate::v1::ODA_RESULT_NOT_PERFORMED: return "none";
    case faregate::v1::ODA_RESULT_SDA: return "sda";
    case faregate::v1::ODA_RESULT_FDDA: return "fdda";
    case faregate::v1::ODA_RESULT_CDA: return "cda";
    case faregate::v1::ODA_RESULT_FAILED: return "failed";
    default: return "unknown";
  }
}

// A fresh private directory under $TMPDIR for one run.
Result<std::filesystem::path> make_temp_dir(std::string_view prefix) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return make_error(ErrorCode::kIo, "cannot create a temporary directory");
  }
  return std::filesystem::path(pattern);
}

}  // namespace

int run_cards(const CardsOptions& options) {
  const auto kinds = card_kinds();
  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& k : kinds) {
      out.push_back({{"kind", k.name},
                     {"expect", k.expect},
                     {"reason", k.reason},
                     {"oda", k.oda},
                     {"about", k.about}});
    }
    std::cout << out.dump() << "\n";
    return 0;
  }
  for (const auto& k : kinds) {
    std::cout << fmt::format("{:<16} {:<7} {:<26} {}\n", k.name, k.expect, k.reason, k.about);
  }
  return 0;
}

namespace {

// The card for `faregate-sim tap`: a catalog kind or a replayed transcript; with --record,
// wrapped so that its exchanges are kept.
struct TapCard {
  std::shared_ptr<hal::sim::ContactlessCard> card;
  std::shared_ptr<TranscriptCard> replay;
  std::shared_ptr<RecordingCard> recorder;
  std::string name;
};

Result<TapCard> tap_card(const TapOptions& options) {
  TapCard out;
  if (!options.transcript_file.empty()) {
    auto transcript = load_transcript(options.transcript_file);
    if (!transcript) return std::unexpected(transcript.error());
    out.replay = std::make_shared<TranscriptCard>(std::move(*transcript));
    out.card = out.replay;
    out.name = "transcript";
  } else {
    auto card = make_card(options.card_kind, options.seed);
    if (!card) return std::unexpected(card.error());
    out.card = *card;
    out.name = options.card_kind;
  }
  if (!options.record_file.empty()) {
    out.recorder = std::make_shared<RecordingCard>(
        out.card, "faregate-sim tap of " + out.name + " with seed " + std::to_string(options.seed));
    out.card = out.recorder;
  }
  return out;
}

}  // namespace

int run_tap(const TapOptions& options) {
  auto card = tap_card(options);
  if (!card) {
    std::cerr << "faregate-sim tap: " << card.error().message << "\n";
    return 2;
  }
  auto keys = simulated_key_store(options.seed);
  auto ca_keys = simulated_ca_keys();
  if (!keys || !ca_keys) {
    std::cerr << "faregate-sim tap: "
              << (keys ? ca_keys.error().describe() : keys.error().describe()) << "\n";
    return 1;
  }
  auto dir = make_temp_dir("faregate-tap");
  if (!dir) {
    std::cerr << "faregate-sim tap: " << dir.error().describe() << "\n";
    return 1;
  }
  int code = 1;
  {
    auto journal = journal::Journal::open(*dir / "journal.db", "sim-validator-1");
    if (!journal) {
      std::cerr << "faregate-sim tap: " << journal.error().describe() << "\n";
    } else {
      hal::sim::SimNfcReader reader;
      hal::sim::BitRate rate = hal::sim::BitRate::k106;
      (void)hal::sim::parse_bit_rate(options.bit_rate_kbps, rate);  // CLI checked the value
      reader.set_bit_rate(rate);
      // Without --json the virtual gate shows what the rider would see and hear, line by line.
      hal::sim::SimGate gate([&options](const std::string& action) {
        if (!options.json) std::cout << "gate: " << action << "\n";
      });
      hal::linux_os::SystemClock clock;
      // Seeded: the same seed sends the same unpredictable number, so a recorded transcript
      // replays byte for byte.
      auto drbg = crypto::Drbg::deterministic(options.seed);
      tap::TapPipelineConfig config;
      config.device_id = "sim-validator-1";
      config.stop_id = "sim-stop";
      config.role = faregate::v1::VALIDATOR_ROLE_ENTRY;
      config.firmware_version = "sim";
      tap::TapPipeline pipeline(reader, gate, clock, *keys, **journal, *ca_keys, drbg, config);
      reader.place(card->card);
      auto outcome = pipeline.poll(std::chrono::milliseconds(0));
      if (!outcome || !outcome->has_value()) {
        std::cerr << "faregate-sim tap: "
                  << (outcome ? std::string("the reader saw no card") : outcome.error().describe())
                  << "\n";
      } else {
        const auto& o = **outcome;
        const auto& r = o.record;
        const bool accepted = r.decision() == faregate::v1::DECISION_ACCEPT;
        nlohmann::json j = {
            {"card", card->name},
            {"decision", accepted ? "accept" : "deny"},
            {"reason", r.reason()},
            {"scheme", scheme_name(r.scheme())},
            {"oda", oda_name(r.oda())},
            {"token_prefix", to_hex(as_bytes(r.card_token())).substr(0, 8)},
            {"pan_last4", r.pan_last4()},
            {"sealed_card_data_bytes", r.sealed_card_data().size()},
            {"apdus", o.apdu_count},
            // Processing measured on this machine; air time modelled for the APDUs exchanged.
            {"elapsed_us", o.processing.count()},
            {"radio_model_us", reader.air_time_this_tap().count()},
            {"bit_rate_kbps", options.bit_rate_kbps},
            {"gate_opened", o.gate_opened},
            {"device_id", r.device_id()},
            {"seq", r.seq()},
        };
        if (card->replay) {
          j["transcript_consumed"] = card->replay->fully_consumed();
          j["transcript_mismatches"] = card->replay->mismatches();
        }
        if (options.json) {
          std::cout << j.dump() << "\n";
        } else {
          std::cout << fmt::format(
              "{} {} ({}), ODA {}, {} APDUs, {} us processing + {} us modelled radio at {} "
              "kbit/s, gate {}\n",
              card->name, accepted ? "ACCEPTED" : "DENIED", r.reason(), oda_name(r.oda()),
              o.apdu_count, o.processing.count(), reader.air_time_this_tap().count(),
              options.bit_rate_kbps, o.gate_opened ? "opened" : "closed");
        }
        code = 0;
        if (card->replay && (!card->replay->fully_consumed() || !card->replay->mismatches().empty())) {
          std::cerr << "faregate-sim tap: the transcript was not replayed exactly ("
                    << card->replay->consumed() << " exchanges consumed, "
                    << card->replay->mismatches().size() << " mismatched)\n";
          code = 1;
        }
        if (card->recorder) {
          std::ofstream out(options.record_file);
          out << transcript_json(card->recorder->transcript());
          if (!out) {
            std::cerr << "faregate-sim tap: cannot write " << options.record_file << "\n";
            code = 1;
          }
        }
      }
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(*dir, ec);
  return code;
}

namespace {

// The operator's concession registry for the day: every rider of a category other than the
// feed's default one, by the card token validators derive from the rider's card (never the
// PAN), written as the back office's entitlements file (docs/fare_engine.md) and read back
// through the same loader `faregate-backoffice fare-run --entitlements` uses. Returns the
// number of cards registered. Errors: the file cannot be written, or a rider category the feed
// does not know (the loader names it).
Result<std::size_t> register_concessions(const RunReport& report, const fares::FarePolicy& policy,
                                         const std::filesystem::path& file, fares::EntitlementRegistry& registry) {
  const std::string default_category = policy.default_rider_category != fares::kNone
                                           ? policy.rider_categories_ids.name(policy.default_rider_category)
                                           : std::string("adult");
  std::string csv = "card_token,rider_category\n";
  std::size_t cards = 0;
  for (const auto& line : report.rider_lines) {
    if (line.category == default_category || line.card_token.empty()) continue;
    auto token = fares::CardToken::from_bytes(
        ByteView(reinterpret_cast<const std::uint8_t*>(line.card_token.data()), line.card_token.size()));
    if (!token) return std::unexpected(token.error());
    csv += token->hex() + "," + line.category + "\n";
    ++cards;
  }
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << csv;
  out.close();
  if (!out) return make_error(ErrorCode::kIo, "cannot write " + file.string());
  if (auto loaded = fares::load_entitlements_csv(csv, file.string(), policy, registry); !loaded) {
    return std::unexpected(loaded.error());
  }
  return cards;
}

// The back office's fare run over what the scenario left in its data directory: the feed the
// scenario names, the riders' concessions registered (register_concessions, DATA_DIR/
// entitlements.csv), the sealing private key the simulated operator holds (so that the
// simulated acquirer can tell which issuer each card belongs to), and "now" one day after the
// scenario's last ride, when the day's charges are due.
Result<billing::FareRunSummary> fare_run_after(const Scenario& scenario, const RunReport& report,
                                               const std::filesystem::path& data_dir) {
  const FaresSpec& spec = *scenario.fares;
  auto policy = spec.feed == "demo"
                    ? fares::load_gtfs_fares(fares::FeedSource::in_memory(embedded_demo_fares()))
                    : fares::load_gtfs_fares(fares::FeedSource::directory(spec.feed));
  if (!policy) return with_context(policy.error(), "fares.feed " + spec.feed);
  const auto start = fares::parse_hh_mm(spec.service_day_start);
  if (!start) {
    return make_error(ErrorCode::kInvalidArgument,
                      "fares.service_day_start '" + spec.service_day_start + "' is not HH:MM");
  }
  auto rules = billing::parse_acquirer_spec(spec.acquirer);
  if (!rules) return with_context(rules.error(), "fares.acquirer");
  billing::FareRunOptions o;
  o.data_dir = data_dir;
  o.service_day_start_s = *start;
  o.acquirer = std::move(*rules);
  o.now_ms = scenario.day_end_utc_ms + 24LL * 3600 * 1000;
  fares::EntitlementRegistry entitlements;
  const auto entitlements_file = data_dir / "entitlements.csv";
  auto registered = register_concessions(report, *policy, entitlements_file, entitlements);
  if (!registered) return std::unexpected(registered.error());
  std::cerr << "[faregate-sim] concessions: " << *registered << " riders' cards registered in "
            << entitlements_file.string() << "\n";
  o.entitlements = &entitlements;
  if (!o.acquirer.decline_iins.empty()) {
    auto key = simulated_sealing_private_key(scenario.seed);
    if (!key) return std::unexpected(key.error());
    auto pem = key->to_pem();
    if (!pem) return std::unexpected(pem.error());
    o.sealing_key = data_dir / "sealing_private.pem";
    std::ofstream out(o.sealing_key, std::ios::binary | std::ios::trunc);
    out << *pem;
    out.close();
    std::error_code ec;
    std::filesystem::permissions(o.sealing_key,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace, ec);
    if (!out || ec) return make_error(ErrorCode::kIo, "cannot write " + o.sealing_key.string());
  }
  return billing::run_fare_run(*policy, o);
}

}  // namespace

int run_scenario(const RunOptionsCli& options) {
  auto scenario = options.scenario_file.empty() ? parse_scenario(embedded_demo_scenario())
                                                : load_scenario_file(options.scenario_file);
  if (!scenario) {
    std::cerr << "faregate-sim: " << scenario.error().message << "\n";
    return 2;
  }

  std::filesystem::path work_dir = options.work_dir;
  const bool temporary = work_dir.empty();
  if (temporary) {
    auto dir = make_temp_dir("faregate-" + (scenario->name.empty() ? std::string("run") : scenario->name));
    if (!dir) {
      std::cerr << "faregate-sim: " << dir.error().describe() << "\n";
      return 1;
    }
    work_dir = *dir;
  }
  std::error_code ec;
  std::filesystem::create_directories(work_dir, ec);

  RunOptions run;
  run.work_dir = work_dir;
  run.progress = [](const std::string& line) { std::cerr << "[faregate-sim] " << line << "\n"; };
  run.processes = options.processes;
  run.validator_binary = options.validator_binary;
  if (options.acceleration >= 0) run.clock_acceleration = options.acceleration;
  run.threads = options.threads;

  std::optional<BackofficeProcess> backoffice;
  if (options.backoffice.empty()) {
    auto binary = find_backoffice_binary();
    if (!binary) {
      std::cerr << "faregate-sim: " << binary.error().message << "\n";
      return 1;
    }
    const auto data_dir = work_dir / "backoffice";
    std::cerr << "[faregate-sim] starting back office: " << binary->string() << " --data-dir "
              << data_dir.string() << "\n";
    // The back office logs every session at info; the demo's report is the story, so keep its
    // log to warnings and errors.
    auto started = BackofficeProcess::start(*binary, data_dir, 0, {"--log-level", "warn"});
    if (!started) {
      std::cerr << "faregate-sim: " << started.error().message << "\n";
      return 1;
    }
    backoffice.emplace(std::move(*started));
    run.backoffice_port = backoffice->port();
    run.backoffice_store = data_dir / "taps.db";
  } else {
    const auto colon = options.backoffice.rfind(':');
    if (colon == std::string::npos) {
      std::cerr << "faregate-sim: --backoffice must be HOST:PORT\n";
      return 2;
    }
    run.backoffice_host = options.backoffice.substr(0, colon);
    run.backoffice_port = static_cast<std::uint16_t>(std::atoi(options.backoffice.c_str() + colon + 1));
  }

  std::cerr << "[faregate-sim] playing scenario '" << scenario->name << "' ("
            << (options.processes ? "validator processes over libnfc" : "in-process validators")
            << ") in " << work_dir.string() << "\n";
  auto report = run_network(*scenario, run);
  if (backoffice) (void)backoffice->stop();
  if (!report) {
    std::cerr << "faregate-sim: " << report.error().describe() << "\n";
    std::cerr << "[faregate-sim] journals and logs kept in " << work_dir.string() << "\n";
    return 1;
  }
  // With fares, the back office's fare run prices the day, charges it and reconciles it.
  std::optional<billing::FareRunSummary> fares_summary;
  bool fares_ok = true;
  if (scenario->fares && backoffice) {
    std::cerr << "[faregate-sim] fare run: pricing, payments and reconciliation in the back office\n";
    auto summary = fare_run_after(*scenario, *report, work_dir / "backoffice");
    if (!summary) {
      std::cerr << "faregate-sim: fare run: " << summary.error().describe() << "\n";
      fares_ok = false;
    } else {
      fares_ok = summary->balanced;
      fares_summary = std::move(*summary);
    }
  } else if (scenario->fares) {
    std::cerr << "[faregate-sim] no fare run: the back office at " << options.backoffice << " is not ours\n";
  }
  if (options.json) {
    auto j = nlohmann::ordered_json::parse(report_json(*report, options.rider_lines));
    if (fares_summary) j["fares"] = billing::to_json(*fares_summary);
    std::cout << j.dump() << "\n";
  } else {
    std::cout << format_report(*report);
    if (fares_summary) std::cout << billing::format_summary(*fares_summary);
  }
  const bool ok = report->ok() && fares_ok;
  if (temporary && ok) {
    std::filesystem::remove_all(work_dir, ec);
  } else {
    std::cerr << "[faregate-sim] journals and logs kept in " << work_dir.string() << "\n";
  }
  return ok ? 0 : 1;
}

}  // namespace faregate::simulator
