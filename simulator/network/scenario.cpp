#include "simulator/network/scenario.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "simulator/network/demo_scenario.h"  // generated from scenarios/demo.json

namespace faregate::simulator {

namespace {

using nlohmann::json;

Error field_error(std::string_view field, std::string_view what) {
  return Error{ErrorCode::kInvalidArgument, std::string(field) + ": " + std::string(what)};
}

// Reads an optional integer field within [lo, hi].
Status read_int(const json& obj, const char* key, std::string_view path, int lo, int hi,
                int& out) {
  if (!obj.contains(key)) return {};
  const json& v = obj.at(key);
  if (!v.is_number_integer()) return std::unexpected(field_error(path, "must be an integer"));
  const auto n = v.get<std::int64_t>();
  if (n < lo || n > hi) {
    return std::unexpected(field_error(
        path, "must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", found " +
                  std::to_string(n)));
  }
  out = static_cast<int>(n);
  return {};
}

Result<std::int64_t> parse_utc(const json& v, std::string_view path) {
  if (!v.is_string()) return std::unexpected(field_error(path, "must be an ISO 8601 UTC time"));
  const std::string text = v.get<std::string>();
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char tail = 0;
  using namespace std::chrono;
  const bool shaped = text.size() == 20 &&
                      std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi,
                                  &sec, &tail) == 7 &&
                      tail == 'Z';
  const year_month_day date{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!shaped || !date.ok() || h > 23 || mi > 59 || sec > 59 || h < 0 || mi < 0 || sec < 0) {
    return std::unexpected(field_error(path, "must look like 2026-03-02T04:30:00Z, found " + text));
  }
  const auto t = sys_days(date) + hours(h) + minutes(mi) + seconds(sec);
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

Result<Scenario> from_json(const json& root) {
  if (!root.is_object()) return std::unexpected(field_error("scenario", "must be a JSON object"));
  Scenario s;
  if (root.contains("name")) {
    if (!root["name"].is_string()) return std::unexpected(field_error("name", "must be a string"));
    s.name = root["name"].get<std::string>();
  }
  if (root.contains("seed")) {
    if (!root["seed"].is_number_unsigned()) {
      return std::unexpected(field_error("seed", "must be a non-negative integer"));
    }
    s.seed = root["seed"].get<std::uint64_t>();
  }

  if (!root.contains("service_day")) return std::unexpected(field_error("service_day", "missing"));
  const json& day = root["service_day"];
  if (!day.is_object() || !day.contains("start_utc") || !day.contains("end_utc")) {
    return std::unexpected(field_error("service_day", "needs start_utc and end_utc"));
  }
  auto start = parse_utc(day["start_utc"], "service_day.start_utc");
  if (!start) return std::unexpected(start.error());
  auto end = parse_utc(day["end_utc"], "service_day.end_utc");
  if (!end) return std::unexpected(end.error());
  if (*end <= *start || *end - *start > 48LL * 3600 * 1000) {
    return std::unexpected(field_error("service_day", "end_utc must be after start_utc, within 48 h"));
  }
  s.day_start_utc_ms = *start;
  s.day_end_utc_ms = *end;

  if (!root.contains("stations") || !root["stations"].is_array() || root["stations"].size() < 2) {
    return std::unexpected(field_error("stations", "must list at least two station ids"));
  }
  for (const json& st : root["stations"]) {
    if (!st.is_string() || st.get<std::string>().empty()) {
      return std::unexpected(field_error("stations", "station ids must be non-empty strings"));
    }
    s.stations.push_back(st.get<std::string>());
  }
  if (root.contains("validators_per_station")) {
    const json& v = root["validators_per_station"];
    if (!v.is_object()) return std::unexpected(field_error("validators_per_station", "must be an object"));
    if (auto r = read_int(v, "entry", "validators_per_station.entry", 1, 64,
                          s.entry_validators_per_station); !r) return std::unexpected(r.error());
    if (auto r = read_int(v, "exit", "validators_per_station.exit", 1, 64,
                          s.exit_validators_per_station); !r) return std::unexpected(r.error());
  }

  if (!root.contains("riders") || !root["riders"].is_object()) {
    return std::unexpected(field_error("riders", "missing"));
  }
  const json& riders = root["riders"];
  if (!riders.contains("count")) return std::unexpected(field_error("riders.count", "missing"));
  if (auto r = read_int(riders, "count", "riders.count", 1, 1'000'000, s.riders); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = read_int(riders, "min_trips", "riders.min_trips", 1, 20, s.min_trips_per_rider); !r)
    return std::unexpected(r.error());
  if (auto r = read_int(riders, "max_trips", "riders.max_trips", 1, 20, s.max_trips_per_rider); !r)
    return std::unexpected(r.error());
  if (s.max_trips_per_rider < s.min_trips_per_rider) {
    return std::unexpected(field_error("riders.max_trips", "must be >= riders.min_trips"));
  }
  if (auto r = read_int(riders, "forget_tap_out_percent", "riders.forget_tap_out_percent", 0, 100,
                        s.forget_tap_out_percent); !r) return std::unexpected(r.error());
  if (!riders.contains("cards") || !riders["cards"].is_object() || riders["cards"].empty()) {
    return std::unexpected(field_error("riders.cards", "must map card kinds to weights"));
  }
  for (const auto& [kind, weight] : riders["cards"].items()) {
    if (!weight.is_number_integer() || weight.get<int>() < 0) {
      return std::unexpected(field_error("riders.cards." + kind, "weight must be an integer >= 0"));
    }
    if (weight.get<int>() > 0) s.card_mix[kind] = weight.get<int>();
  }
  if (s.card_mix.empty()) return std::unexpected(field_error("riders.cards", "all weights are 0"));

  if (root.contains("travel_minutes")) {
    const json& t = root["travel_minutes"];
    if (auto r = read_int(t, "min", "travel_minutes.min", 1, 600, s.min_travel_minutes); !r)
      return std::unexpected(r.error());
    if (auto r = read_int(t, "max", "travel_minutes.max", 1, 600, s.max_travel_minutes); !r)
      return std::unexpected(r.error());
    if (s.max_travel_minutes < s.min_travel_minutes) {
      return std::unexpected(field_error("travel_minutes.max", "must be >= travel_minutes.min"));
    }
  }
  if (root.contains("sync")) {
    const json& sy = root["sync"];
    if (auto r = read_int(sy, "every_minutes", "sync.every_minutes", 1, 24 * 60,
                          s.sync_every_minutes); !r) return std::unexpected(r.error());
    if (auto r = read_int(sy, "batch_taps", "sync.batch_taps", 1, 5000, s.batch_taps); !r)
      return std::unexpected(r.error());
  }
  return s;
}

}  // namespace

Result<Scenario> parse_scenario(std::string_view json_text) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return make_error(ErrorCode::kInvalidArgument, "scenario is not valid JSON");
  }
  return from_json(root);
}

Result<Scenario> load_scenario_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read scenario file " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto scenario = parse_scenario(text.str());
  if (!scenario) return with_context(scenario.error(), path);
  return scenario;
}

std::string_view embedded_demo_scenario() { return kDemoScenarioJson; }

}  // namespace faregate::simulator
