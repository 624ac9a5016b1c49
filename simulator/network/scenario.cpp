#include "simulator/network/scenario.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>

#include "simulator/network/demo_scenario.h"  // generated from scenarios/demo.json

namespace faregate::simulator {

namespace {

using nlohmann::json;
constexpr std::int64_t kMinuteMs = 60'000;
constexpr int kMaxRiders = 1'000'000;

// A field that failed its check: where (a path locate_json_path understands) and why.
struct FieldError {
  std::string path;
  std::string what;
};
using Check = std::expected<void, FieldError>;
template <typename T>
using Checked = std::expected<T, FieldError>;

std::unexpected<FieldError> bad(std::string path, std::string what) {
  return std::unexpected(FieldError{std::move(path), std::move(what)});
}

std::string member(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}
std::string element(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

Check require_object(const json& v, const std::string& path) {
  if (!v.is_object()) return bad(path, "must be a JSON object");
  return {};
}

// Refuses members the format does not define: a misspelt field would otherwise be ignored
// silently and the scenario would not be the one its author meant.
Check only_known(const json& obj, const std::string& path,
                 std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : obj.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return bad(member(path, key), "unknown field (known here: " + list + ")");
    }
  }
  return {};
}

// Reads an optional integer field within [lo, hi].
Check read_int(const json& obj, const char* key, const std::string& parent, int lo, int hi,
               int& out) {
  if (!obj.contains(key)) return {};
  const std::string path = member(parent, key);
  const json& v = obj.at(key);
  if (!v.is_number_integer()) return bad(path, "must be an integer");
  const auto n = v.get<std::int64_t>();
  if (n < lo || n > hi) {
    return bad(path, "must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", found " +
                         std::to_string(n));
  }
  out = static_cast<int>(n);
  return {};
}

Check read_string(const json& obj, const char* key, const std::string& parent, std::string& out) {
  if (!obj.contains(key)) return {};
  const json& v = obj.at(key);
  if (!v.is_string() || v.get<std::string>().empty()) {
    return bad(member(parent, key), "must be a non-empty string");
  }
  out = v.get<std::string>();
  return {};
}

Checked<std::int64_t> parse_utc(const json& v, const std::string& path) {
  if (!v.is_string()) return bad(path, "must be an ISO 8601 UTC time");
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
    return bad(path, "must look like 2026-03-02T04:30:00Z, found " + text);
  }
  const auto t = sys_days(date) + hours(h) + minutes(mi) + seconds(sec);
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// "07:30" (UTC) -> the first such moment at or after `day_start`.
Checked<std::int64_t> parse_time_of_day(const json& v, const std::string& path,
                                        std::int64_t day_start) {
  int h = -1, m = -1;
  char tail = 0;
  if (!v.is_string() ||
      std::sscanf(v.get<std::string>().c_str(), "%2d:%2d%c", &h, &m, &tail) != 2 ||
      v.get<std::string>().size() != 5 || h < 0 || h > 23 || m < 0 || m > 59) {
    return bad(path, "must be a UTC time of day like \"07:30\"");
  }
  constexpr std::int64_t kDay = 24 * 60 * kMinuteMs;
  const std::int64_t offset = (h * 60 + m) * kMinuteMs;
  std::int64_t t = day_start - (day_start % kDay) + offset;
  if (t < day_start) t += kDay;
  return t;
}

Check read_peak(const json& peaks, const char* key, const Scenario& s, std::int64_t& from,
                std::int64_t& to) {
  if (!peaks.contains(key)) return {};
  const std::string path = member("peaks", key);
  const json& p = peaks.at(key);
  if (auto r = require_object(p, path); !r) return r;
  if (auto r = only_known(p, path, {"from", "to"}); !r) return r;
  if (!p.contains("from") || !p.contains("to")) return bad(path, "needs from and to");
  auto f = parse_time_of_day(p.at("from"), member(path, "from"), s.day_start_utc_ms);
  if (!f) return std::unexpected(f.error());
  auto t = parse_time_of_day(p.at("to"), member(path, "to"), *f);
  if (!t) return std::unexpected(t.error());
  if (*t > s.day_end_utc_ms) return bad(member(path, "to"), "must be within the service day");
  from = *f;
  to = *t;
  return {};
}

Check parse_cards(const json& group, const std::string& path, RiderGroup& g) {
  const std::string cards_path = member(path, "cards");
  if (!group.contains("cards") || !group.at("cards").is_object() || group.at("cards").empty()) {
    return bad(cards_path, "must map card kinds to weights");
  }
  for (const auto& [kind, weight] : group.at("cards").items()) {
    if (!weight.is_number_integer() || weight.get<std::int64_t>() < 0 ||
        weight.get<std::int64_t>() > 1'000'000) {
      return bad(member(cards_path, kind), "weight must be an integer 0..1000000");
    }
    if (weight.get<int>() > 0) g.card_mix[kind] = weight.get<int>();
  }
  if (g.card_mix.empty()) return bad(cards_path, "all weights are 0");
  return {};
}

Check parse_places(const json& group, const char* key, const std::string& path,
                   const std::set<std::string>& known, std::vector<std::string>& out) {
  if (!group.contains(key)) return {};
  const std::string list_path = member(path, key);
  const json& list = group.at(key);
  if (!list.is_array() || list.empty()) return bad(list_path, "must be a non-empty array of places");
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string() || !known.contains(list[i].get<std::string>())) {
      return bad(element(list_path, i), "must be a station or a route stop of this scenario");
    }
    out.push_back(list[i].get<std::string>());
  }
  return {};
}

Check parse_group(const json& group, const std::string& path, const std::set<std::string>& places,
                  RiderGroup& g) {
  if (auto r = require_object(group, path); !r) return r;
  if (auto r = only_known(group, path,
                          {"name", "count", "category", "cards", "min_trips", "max_trips",
                           "forget_tap_out_percent", "pattern", "homes", "works"});
      !r) {
    return r;
  }
  if (auto r = read_string(group, "name", path, g.name); !r) return r;
  if (!group.contains("count")) return bad(member(path, "count"), "missing");
  if (auto r = read_int(group, "count", path, 1, kMaxRiders, g.count); !r) return r;
  if (auto r = read_string(group, "category", path, g.category); !r) return r;
  if (auto r = read_int(group, "min_trips", path, 1, 20, g.min_trips); !r) return r;
  if (auto r = read_int(group, "max_trips", path, 1, 20, g.max_trips); !r) return r;
  if (g.max_trips < g.min_trips) return bad(member(path, "max_trips"), "must be >= min_trips");
  if (auto r = read_int(group, "forget_tap_out_percent", path, 0, 100, g.forget_tap_out_percent); !r)
    return r;
  if (group.contains("pattern")) {
    const json& p = group.at("pattern");
    if (p == "home_work") {
      g.pattern = TravelPattern::kHomeWork;
    } else if (p == "wander") {
      g.pattern = TravelPattern::kWander;
    } else {
      return bad(member(path, "pattern"), "must be \"home_work\" or \"wander\"");
    }
  }
  if (auto r = parse_cards(group, path, g); !r) return r;
  if (auto r = parse_places(group, "homes", path, places, g.homes); !r) return r;
  if (auto r = parse_places(group, "works", path, places, g.works); !r) return r;
  return {};
}

Check parse_routes(const json& root, Scenario& s) {
  if (!root.contains("routes")) return {};
  const json& routes = root.at("routes");
  if (!routes.is_array()) return bad("routes", "must be an array of routes");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const std::string path = element("routes", i);
    const json& r = routes[i];
    if (auto c = require_object(r, path); !c) return c;
    if (auto c = only_known(r, path, {"id", "stops", "vehicles", "minutes_between_stops"}); !c)
      return c;
    RouteSpec route;
    if (!r.contains("id")) return bad(member(path, "id"), "missing");
    if (auto c = read_string(r, "id", path, route.id); !c) return c;
    if (!ids.insert(route.id).second) {
      return bad(member(path, "id"), "duplicate route id '" + route.id + "'");
    }
    const std::string stops_path = member(path, "stops");
    if (!r.contains("stops") || !r.at("stops").is_array() || r.at("stops").size() < 2) {
      return bad(stops_path, "must list at least two stop ids");
    }
    std::set<std::string> seen;
    for (std::size_t k = 0; k < r.at("stops").size(); ++k) {
      const json& stop = r.at("stops")[k];
      if (!stop.is_string() || stop.get<std::string>().empty()) {
        return bad(element(stops_path, k), "stop ids must be non-empty strings");
      }
      if (!seen.insert(stop.get<std::string>()).second) {
        return bad(element(stops_path, k), "the route already stops at '" +
                                               stop.get<std::string>() + "'");
      }
      route.stops.push_back(stop.get<std::string>());
    }
    if (auto c = read_int(r, "vehicles", path, 1, 500, route.vehicles); !c) return c;
    if (auto c = read_int(r, "minutes_between_stops", path, 1, 60, route.minutes_between_stops); !c)
      return c;
    s.routes.push_back(std::move(route));
  }
  return {};
}

// Every place must be reachable from every other, by rail (any two stations) or by bus (any two
// stops of a route): union-find over places.
Check check_connected(const Scenario& s) {
  const auto places = s.places();
  if (places.size() < 2) return bad("stations", "the network needs at least two places");
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < places.size(); ++i) index[places[i]] = i;
  std::vector<std::size_t> parent(places.size());
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  auto join = [&](std::size_t a, std::size_t b) { parent[find(a)] = find(b); };
  for (const auto& st : s.stations) join(index[st], index[s.stations.front()]);
  for (const auto& r : s.routes) {
    for (const auto& stop : r.stops) join(index[stop], index[r.stops.front()]);
  }
  const std::size_t root = find(0);
  for (std::size_t i = 0; i < s.routes.size(); ++i) {
    if (find(index[s.routes[i].stops.front()]) != root) {
      return bad(element("routes", i),
                 "cannot be reached from the rest of the network (no stop is a station or a stop "
                 "of a connected route)");
    }
  }
  return {};
}

Check parse_riders(const json& root, Scenario& s) {
  if (!root.contains("riders")) return bad("riders", "missing");
  const json& riders = root.at("riders");
  std::set<std::string> places;
  for (const auto& p : s.places()) places.insert(p);
  if (riders.is_object()) {
    RiderGroup g;
    g.name = "riders";
    if (auto r = parse_group(riders, "riders", places, g); !r) return r;
    s.groups.push_back(std::move(g));
  } else if (riders.is_array() && !riders.empty()) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < riders.size(); ++i) {
      RiderGroup g;
      g.name = "group-" + std::to_string(i + 1);
      if (auto r = parse_group(riders[i], element("riders", i), places, g); !r) return r;
      if (!names.insert(g.name).second) {
        return bad(member(element("riders", i), "name"), "duplicate group name '" + g.name + "'");
      }
      s.groups.push_back(std::move(g));
    }
  } else {
    return bad("riders", "must be a rider group object or a non-empty array of them");
  }
  std::int64_t total = 0;
  for (const auto& g : s.groups) total += g.count;
  if (total > kMaxRiders) {
    return bad("riders", "at most " + std::to_string(kMaxRiders) + " riders in all, found " +
                             std::to_string(total));
  }
  return {};
}

Checked<Scenario> from_json(const json& root) {
  if (!root.is_object()) return bad("", "the scenario must be a JSON object");
  if (auto r = only_known(root, "",
                          {"name", "seed", "service_day", "peaks", "clock", "stations",
                           "validators_per_station", "routes", "riders", "travel_minutes", "sync",
                           "fares"});
      !r) {
    return std::unexpected(r.error());
  }
  Scenario s;
  if (root.contains("name")) {
    if (!root["name"].is_string()) return bad("name", "must be a string");
    s.name = root["name"].get<std::string>();
  }
  if (root.contains("seed")) {
    if (!root["seed"].is_number_unsigned()) return bad("seed", "must be a non-negative integer");
    s.seed = root["seed"].get<std::uint64_t>();
  }

  if (!root.contains("service_day")) return bad("service_day", "missing");
  const json& day = root["service_day"];
  if (!day.is_object() || !day.contains("start_utc") || !day.contains("end_utc")) {
    return bad("service_day", "needs start_utc and end_utc");
  }
  if (auto r = only_known(day, "service_day", {"start_utc", "end_utc"}); !r) {
    return std::unexpected(r.error());
  }
  auto start = parse_utc(day["start_utc"], "service_day.start_utc");
  if (!start) return std::unexpected(start.error());
  auto end = parse_utc(day["end_utc"], "service_day.end_utc");
  if (!end) return std::unexpected(end.error());
  if (*end <= *start || *end - *start > 48LL * 3600 * 1000) {
    return bad("service_day", "end_utc must be after start_utc, within 48 h");
  }
  s.day_start_utc_ms = *start;
  s.day_end_utc_ms = *end;
  // Default peaks: the first quarter of the day, and from 55% to 80% of it.
  const std::int64_t length = *end - *start;
  s.morning_start_utc_ms = *start;
  s.morning_end_utc_ms = *start + length / 4;
  s.evening_start_utc_ms = *start + length * 55 / 100;
  s.evening_end_utc_ms = *start + length * 80 / 100;
  if (root.contains("peaks")) {
    const json& peaks = root["peaks"];
    if (auto r = require_object(peaks, "peaks"); !r) return std::unexpected(r.error());
    if (auto r = only_known(peaks, "peaks", {"morning", "evening"}); !r) {
      return std::unexpected(r.error());
    }
    if (auto r = read_peak(peaks, "morning", s, s.morning_start_utc_ms, s.morning_end_utc_ms); !r)
      return std::unexpected(r.error());
    if (auto r = read_peak(peaks, "evening", s, s.evening_start_utc_ms, s.evening_end_utc_ms); !r)
      return std::unexpected(r.error());
    if (s.evening_start_utc_ms < s.morning_end_utc_ms) {
      return bad("peaks.evening.from", "must not be before the morning peak ends");
    }
  }
  if (root.contains("clock")) {
    const json& clock = root["clock"];
    if (auto r = require_object(clock, "clock"); !r) return std::unexpected(r.error());
    if (auto r = only_known(clock, "clock", {"acceleration"}); !r) return std::unexpected(r.error());
    if (clock.contains("acceleration")) {
      const json& a = clock["acceleration"];
      if (!a.is_number() || a.get<double>() < 0 || a.get<double>() > 1e6 ||
          !std::isfinite(a.get<double>())) {
        return bad("clock.acceleration",
                   "must be a number 0..1000000 (simulated seconds per real second; 0: as fast "
                   "as possible)");
      }
      s.clock_acceleration = a.get<double>();
    }
  }

  if (root.contains("stations")) {
    const json& stations = root["stations"];
    if (!stations.is_array()) return bad("stations", "must be an array of station ids");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < stations.size(); ++i) {
      const json& st = stations[i];
      if (!st.is_string() || st.get<std::string>().empty()) {
        return bad(element("stations", i), "station ids must be non-empty strings");
      }
      if (!seen.insert(st.get<std::string>()).second) {
        return bad(element("stations", i), "duplicate station id '" + st.get<std::string>() + "'");
      }
      s.stations.push_back(st.get<std::string>());
    }
  }
  if (auto r = parse_routes(root, s); !r) return std::unexpected(r.error());
  if (s.routes.empty() && s.stations.size() < 2) {
    return bad("stations", "must list at least two station ids (or give routes)");
  }
  if (auto r = check_connected(s); !r) return std::unexpected(r.error());
  if (root.contains("validators_per_station")) {
    const json& v = root["validators_per_station"];
    if (auto r = require_object(v, "validators_per_station"); !r) return std::unexpected(r.error());
    if (auto r = only_known(v, "validators_per_station", {"entry", "exit"}); !r)
      return std::unexpected(r.error());
    if (auto r = read_int(v, "entry", "validators_per_station", 1, 64,
                          s.entry_validators_per_station); !r) return std::unexpected(r.error());
    if (auto r = read_int(v, "exit", "validators_per_station", 1, 64,
                          s.exit_validators_per_station); !r) return std::unexpected(r.error());
  }

  if (auto r = parse_riders(root, s); !r) return std::unexpected(r.error());

  if (root.contains("travel_minutes")) {
    const json& t = root["travel_minutes"];
    if (auto r = require_object(t, "travel_minutes"); !r) return std::unexpected(r.error());
    if (auto r = only_known(t, "travel_minutes", {"min", "max"}); !r) return std::unexpected(r.error());
    if (auto r = read_int(t, "min", "travel_minutes", 1, 600, s.min_travel_minutes); !r)
      return std::unexpected(r.error());
    if (auto r = read_int(t, "max", "travel_minutes", 1, 600, s.max_travel_minutes); !r)
      return std::unexpected(r.error());
    if (s.max_travel_minutes < s.min_travel_minutes) {
      return bad("travel_minutes.max", "must be >= travel_minutes.min");
    }
  }
  if (root.contains("sync")) {
    const json& sy = root["sync"];
    if (auto r = require_object(sy, "sync"); !r) return std::unexpected(r.error());
    if (auto r = only_known(sy, "sync", {"every_minutes", "batch_taps"}); !r)
      return std::unexpected(r.error());
    if (auto r = read_int(sy, "every_minutes", "sync", 1, 24 * 60, s.sync_every_minutes); !r)
      return std::unexpected(r.error());
    if (auto r = read_int(sy, "batch_taps", "sync", 1, 5000, s.batch_taps); !r)
      return std::unexpected(r.error());
  }
  if (root.contains("fares")) {
    const json& f = root["fares"];
    if (auto r = require_object(f, "fares"); !r) return std::unexpected(r.error());
    if (auto r = only_known(f, "fares", {"feed", "acquirer", "service_day_start"}); !r)
      return std::unexpected(r.error());
    FaresSpec spec;
    if (auto r = read_string(f, "feed", "fares", spec.feed); !r) return std::unexpected(r.error());
    if (spec.feed.empty()) return bad("fares.feed", "must be \"demo\" or a GTFS directory");
    if (f.contains("acquirer")) {
      if (auto r = read_string(f, "acquirer", "fares", spec.acquirer); !r) return std::unexpected(r.error());
    }
    if (f.contains("service_day_start")) {
      if (auto r = read_string(f, "service_day_start", "fares", spec.service_day_start); !r)
        return std::unexpected(r.error());
    }
    s.fares = std::move(spec);
  }
  return s;
}

// " (line L, column C)" for `path`, or for the nearest enclosing value that is in the text (a
// missing field is reported where its parent is).
std::string where(std::string_view text, std::string path) {
  for (;;) {
    if (auto pos = locate_json_path(text, path)) {
      return " (line " + std::to_string(pos->line) + ", column " + std::to_string(pos->column) + ")";
    }
    if (path.empty()) return "";
    const auto cut = path.find_last_of(".[");
    path = cut == std::string::npos ? std::string() : path.substr(0, cut);
  }
}

// Walks JSON text keeping line and column, for locate_json_path.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return at_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[at_]; }
  TextPosition position() const { return {line_, column_}; }
  void advance() {
    if (done()) return;
    if (text_[at_] == '\n') {
      ++line_;
      column_ = 1;
    } else if ((static_cast<unsigned char>(text_[at_]) & 0xC0) != 0x80) {
      ++column_;  // count characters, not UTF-8 continuation bytes
    }
    ++at_;
  }
  void skip_space() {
    while (!done() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) advance();
  }
  // At a '"': reads the string (escapes kept undecoded except \" and \\), past the closing quote.
  std::optional<std::string> string() {
    if (peek() != '"') return std::nullopt;
    advance();
    std::string out;
    while (!done() && peek() != '"') {
      if (peek() == '\\') {
        advance();
        if (done()) return std::nullopt;
      }
      out.push_back(peek());
      advance();
    }
    if (done()) return std::nullopt;
    advance();
    return out;
  }
  // Skips a number or literal.
  void scalar() {
    while (!done() && std::string_view(",]} \t\r\n").find(peek()) == std::string_view::npos) advance();
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
  int line_ = 1;
  int column_ = 1;
};

}  // namespace

std::optional<TextPosition> locate_json_path(std::string_view json_text, std::string_view path) {
  // An explicit stack instead of recursion: a file nested a million levels deep must not
  // overflow the stack.
  struct Frame {
    bool array;
    std::string path;
    std::size_t index = 0;
  };
  std::vector<Frame> stack;
  Cursor c(json_text);
  std::string value_path;  // the path of the value about to be read
  for (;;) {
    c.skip_space();
    if (c.done()) return std::nullopt;
    if (value_path == path) return c.position();
    // Descend only where the target can be.
    const bool on_the_way = path.starts_with(value_path);
    const char ch = c.peek();
    if ((ch == '{' || ch == '[') && on_the_way) {
      c.advance();
      stack.push_back({ch == '[', value_path});
    } else if (ch == '{' || ch == '[') {
      // Skip the whole container, strings included.
      int depth = 0;
      do {
        if (c.peek() == '"') {
          if (!c.string()) return std::nullopt;
          continue;
        }
        if (c.peek() == '{' || c.peek() == '[') ++depth;
        if (c.peek() == '}' || c.peek() == ']') --depth;
        c.advance();
      } while (depth > 0 && !c.done());
    } else if (ch == '"') {
      if (!c.string()) return std::nullopt;
    } else {
      c.scalar();
    }
    // After a value, or right after an opening bracket: find the next value's path.
    for (;;) {
      if (stack.empty()) return std::nullopt;
      c.skip_space();
      Frame& top = stack.back();
      if (c.peek() == ',') {
        c.advance();
        c.skip_space();
        ++top.index;
      } else if (c.peek() == '}' || c.peek() == ']') {
        c.advance();
        stack.pop_back();
        continue;
      } else if (c.done()) {
        return std::nullopt;
      }
      if (top.array) {
        if (c.peek() == ']') continue;
        value_path = element(top.path, top.index);
      } else {
        if (c.peek() == '}') continue;
        auto key = c.string();
        if (!key) return std::nullopt;
        c.skip_space();
        if (c.peek() != ':') return std::nullopt;
        c.advance();
        value_path = member(top.path, *key);
      }
      break;
    }
  }
}

int Scenario::rider_count() const {
  int total = 0;
  for (const auto& g : groups) total += g.count;
  return total;
}

std::vector<std::string> Scenario::places() const {
  std::vector<std::string> out = stations;
  std::set<std::string> seen(stations.begin(), stations.end());
  for (const auto& r : routes) {
    for (const auto& stop : r.stops) {
      if (seen.insert(stop).second) out.push_back(stop);
    }
  }
  return out;
}

Result<Scenario> parse_scenario(std::string_view json_text) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    // The byte offset of the error, as a line and column.
    int line = 1, column = 1;
    const std::size_t end = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, json_text.size());
    for (std::size_t i = 0; i < end; ++i) {
      if (json_text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return make_error(ErrorCode::kInvalidArgument,
                      "scenario is not valid JSON (line " + std::to_string(line) + ", column " +
                          std::to_string(column) + ")");
  }
  auto scenario = from_json(root);
  if (!scenario) {
    const FieldError& e = scenario.error();
    return make_error(ErrorCode::kInvalidArgument,
                      (e.path.empty() ? std::string("scenario") : e.path) + ": " + e.what +
                          where(json_text, e.path));
  }
  return std::move(*scenario);
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
