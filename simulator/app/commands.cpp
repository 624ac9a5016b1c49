#include "simulator/app/commands.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "firmware/journal/journal.h"
#include "firmware/tap/tap_pipeline.h"
#include "hal/linux/system_clock.h"
#include "hal/sim/sim_gate.h"
#include "hal/sim/sim_nfc_reader.h"
#include "hal/sim/static_key_store.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/network/backoffice_process.h"
#include "simulator/network/network_run.h"
#include "simulator/network/scenario.h"

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
    for (const auto& k : kinds) out.push_back({{"kind", k.name}, {"expect", k.expect}, {"about", k.about}});
    std::cout << out.dump() << "\n";
    return 0;
  }
  for (const auto& k : kinds) std::cout << fmt::format("{:<20} {:<7} {}\n", k.name, k.expect, k.about);
  return 0;
}

int run_tap(const TapOptions& options) {
  auto card = make_card(options.card_kind, options.seed);
  if (!card) {
    std::cerr << "faregate-sim tap: " << card.error().message << "\n";
    return 2;
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
      hal::sim::StaticKeyStore keys(simulated_card_token_key(options.seed));
      tap::TapPipelineConfig config;
      config.device_id = "sim-validator-1";
      config.stop_id = "sim-stop";
      config.role = faregate::v1::VALIDATOR_ROLE_ENTRY;
      config.firmware_version = "sim";
      tap::TapPipeline pipeline(reader, gate, clock, keys, **journal, config);
      reader.place(*card);
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
            {"card", options.card_kind},
            {"decision", accepted ? "accept" : "deny"},
            {"reason", r.reason()},
            {"scheme", scheme_name(r.scheme())},
            {"oda", oda_name(r.oda())},
            {"token_prefix", to_hex(as_bytes(r.card_token())).substr(0, 8)},
            {"pan_last4", r.pan_last4()},
            {"apdus", o.apdu_count},
            // Processing measured on this machine; air time modelled for the APDUs exchanged.
            {"elapsed_us", o.processing.count()},
            {"radio_model_us", reader.air_time_this_tap().count()},
            {"bit_rate_kbps", options.bit_rate_kbps},
            {"gate_opened", o.gate_opened},
            {"device_id", r.device_id()},
            {"seq", r.seq()},
        };
        if (options.json) {
          std::cout << j.dump() << "\n";
        } else {
          std::cout << fmt::format(
              "{} {} ({}), {} APDUs, {} us processing + {} us modelled radio at {} kbit/s, gate {}\n",
              options.card_kind, accepted ? "ACCEPTED" : "DENIED", r.reason(), o.apdu_count,
              o.processing.count(), reader.air_time_this_tap().count(), options.bit_rate_kbps,
              o.gate_opened ? "opened" : "closed");
        }
        code = 0;
      }
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(*dir, ec);
  return code;
}

int run_scenario(const RunOptionsCli& options) {
  auto scenario = options.scenario_file.empty() ? parse_scenario(embedded_demo_scenario())
                                                : load_scenario_file(options.scenario_file);
  if (!scenario) {
    std::cerr << "faregate-sim: " << scenario.error().message << "\n";
    return 2;
  }

  std::filesystem::path work_dir = options.work_dir;
  if (work_dir.empty()) {
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

  std::cerr << "[faregate-sim] playing scenario '" << scenario->name << "' in " << work_dir.string()
            << "\n";
  auto report = run_network(*scenario, run);
  if (backoffice) (void)backoffice->stop();
  if (!report) {
    std::cerr << "faregate-sim: " << report.error().describe() << "\n";
    return 1;
  }
  std::cout << (options.json ? report_json(*report) + "\n" : format_report(*report));
  return report->ok() ? 0 : 1;
}

}  // namespace faregate::simulator
