#include "backoffice/fares/gtfs_fares_loader.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <deque>
#include <tuple>
#include <utility>

#include "backoffice/fares/csv_reader.h"

namespace faregate::fares {

FeedSource FeedSource::directory(std::filesystem::path dir) {
  FeedSource s;
  s.dir_ = std::move(dir);
  return s;
}

FeedSource FeedSource::in_memory(std::map<std::string, std::string> files) {
  FeedSource s;
  s.in_memory_ = true;
  for (auto& [name, text] : files) s.files_.emplace(name, std::move(text));
  return s;
}

Result<std::optional<std::string>> FeedSource::read(std::string_view name) const {
  if (in_memory_) {
    auto it = files_.find(name);
    if (it == files_.end()) return std::optional<std::string>{};
    return std::optional<std::string>{it->second};
  }
  const auto path = dir_ / std::string(name);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<std::string>{};
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "cannot open " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::kIo, "cannot read " + path.string());
  return std::optional<std::string>{buffer.str()};
}

namespace {

// The longest service date range a calendar may span: a bound on memory for hostile input.
constexpr std::int32_t kMaxServiceDays = 366 * 30;

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  if (s.empty()) return std::nullopt;
  const char* begin = s.data();
  if (*begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string id_text(std::string_view s) { return "'" + std::string(s) + "'"; }

class Loader {
 public:
  Loader(const FeedSource& source, const LoadOptions& options) : source_(source), options_(options) {}

  Result<FarePolicy> run() {
    if (auto s = load_agency(); !s) return std::unexpected(s.error());
    if (auto s = load_stops(); !s) return std::unexpected(s.error());
    if (auto s = load_routes_and_networks(); !s) return std::unexpected(s.error());
    if (auto s = load_services(); !s) return std::unexpected(s.error());
    if (auto s = load_areas(); !s) return std::unexpected(s.error());
    if (auto s = load_timeframes(); !s) return std::unexpected(s.error());
    if (auto s = load_rider_categories(); !s) return std::unexpected(s.error());
    if (auto s = load_fare_media(); !s) return std::unexpected(s.error());
    if (auto s = load_fare_products(); !s) return std::unexpected(s.error());
    if (auto s = load_leg_rules(); !s) return std::unexpected(s.error());
    if (auto s = load_join_rules(); !s) return std::unexpected(s.error());
    if (auto s = load_transfer_rules(); !s) return std::unexpected(s.error());
    if (auto s = load_caps(); !s) return std::unexpected(s.error());
    if (options_.stop_networks_from_trips) {
      if (auto s = load_stop_networks(); !s) return std::unexpected(s.error());
    }
    finish();
    return std::move(p_);
  }

 private:
  // Opens an optional file; nullopt when absent.
  Result<std::optional<CsvTable>> open(std::string_view name) {
    auto text = source_.read(name);
    if (!text) return std::unexpected(text.error());
    if (!text->has_value()) return std::optional<CsvTable>{};
    texts_.push_back(std::move(**text));
    auto table = CsvTable::open(texts_.back(), std::string(name));
    if (!table) return std::unexpected(table.error());
    return std::optional<CsvTable>{std::move(*table)};
  }

  // A column the file must have.
  static Result<int> required_column(const CsvTable& t, std::string_view name) {
    const int c = t.column(name);
    if (c < 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        t.file_name() + ":1: missing required column " + std::string(name));
    }
    return c;
  }

  static std::unexpected<Error> fail(const CsvTable& t, const std::string& message) {
    return std::unexpected(t.error_here(message));
  }

  // Resolves a foreign id: kNone when empty, else the index or an error naming what is missing.
  static Result<Index> reference(const CsvTable& t, const Interner& table, std::string_view value,
                                 std::string_view field, std::string_view target) {
    if (value.empty()) return kNone;
    const Index i = table.find(value);
    if (i == kNone) {
      return fail(t, std::string(field) + " " + id_text(value) + " is not defined in " + std::string(target));
    }
    return i;
  }

  Status load_agency() {
    std::string tz_name = options_.time_zone;
    auto opened = open("agency.txt");
    if (!opened) return std::unexpected(opened.error());
    if (opened->has_value()) {
      CsvTable& t = **opened;
      auto col = required_column(t, "agency_timezone");
      if (!col) return std::unexpected(col.error());
      std::string first;
      while (true) {
        auto more = t.next();
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        const auto tz = t.field(*col);
        if (tz.empty()) return fail(t, "agency_timezone is empty");
        if (first.empty()) {
          first = std::string(tz);
        } else if (tz != first) {
          // The specification requires one time zone for all agencies of a feed.
          return fail(t, "agency_timezone " + id_text(tz) + " differs from " + id_text(first));
        }
      }
      if (tz_name.empty()) tz_name = first;
    }
    if (tz_name.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "agency.txt: missing or without agency_timezone; a time zone is needed for service days");
    }
    auto zone = TimeZone::locate(tz_name);
    if (!zone) return with_context(zone.error(), "agency.txt");
    p_.time_zones.push_back(std::move(*zone));
    return {};
  }

  Result<Index> time_zone_index(const CsvTable& t, std::string_view name) {
    for (std::size_t i = 0; i < p_.time_zones.size(); ++i)
      if (p_.time_zones[i].name() == name) return static_cast<Index>(i);
    auto zone = TimeZone::locate(name);
    if (!zone) return fail(t, "stop_timezone: " + zone.error().message);
    p_.time_zones.push_back(std::move(*zone));
    return static_cast<Index>(p_.time_zones.size() - 1);
  }

  Status load_stops() {
    auto opened = open("stops.txt");
    if (!opened) return std::unexpected(opened.error());
    if (!opened->has_value()) {
      return make_error(ErrorCode::kInvalidArgument, "stops.txt: missing (taps name stops)");
    }
    CsvTable& t = **opened;
    auto id_col = required_column(t, "stop_id");
    if (!id_col) return std::unexpected(id_col.error());
    const int parent_col = t.column("parent_station");
    const int type_col = t.column("location_type");
    const int tz_col = t.column("stop_timezone");
    struct Pending {
      std::string parent;
      std::uint32_t line;
    };
    std::vector<Pending> parents;
    std::vector<Index> own_tz;
    while (true) {
      auto more = t.next();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      const auto id = t.field(*id_col);
      if (id.empty()) return fail(t, "stop_id is empty");
      if (p_.stop_ids.find(id) != kNone) return fail(t, "duplicate stop_id " + id_text(id));
      p_.stop_ids.intern(id);
      Stop s;
      const auto type_text = t.field(type_col);
      if (!type_text.empty()) {
        auto v = parse_int(type_text);
        if (!v || *v < 0 || *v > 4) return fail(t, "location_type " + id_text(type_text) + " is not 0..4");
        s.location_type = static_cast<std::uint8_t>(*v);
      }
      Index tz = kNone;
      if (const auto tz_text = t.field(tz_col); !tz_text.empty()) {
        auto index = time_zone_index(t, tz_text);
        if (!index) return std::unexpected(index.error());
        tz = *index;
      }
      own_tz.push_back(tz);
      p_.stops.push_back(s);
      parents.push_back({std::string(t.field(parent_col)), t.line()});
    }
    for (std::size_t i = 0; i < parents.size(); ++i) {
      if (parents[i].parent.empty()) continue;
      const Index parent = p_.stop_ids.find(parents[i].parent);
      if (parent == kNone) {
        return make_error(ErrorCode::kInvalidArgument, "stops.txt:" + std::to_string(parents[i].line) +
                                                           ": parent_station " + id_text(parents[i].parent) +
                                                           " is not defined in stops.txt");
      }
      if (parent == i) {
        return make_error(ErrorCode::kInvalidArgument,
                          "stops.txt:" + std::to_string(parents[i].line) + ": stop is its own parent_station");
      }
      p_.stops[i].parent = parent;
    }
    // Station and time zone: walk up the hierarchy (at most boarding area -> platform ->
    // station); a longer chain is a cycle.
    for (std::size_t i = 0; i < p_.stops.size(); ++i) {
      Index cur = static_cast<Index>(i);
      int depth = 0;
      while (p_.stops[cur].location_type != 1 && p_.stops[cur].parent != kNone) {
        cur = p_.stops[cur].parent;
        if (++depth > 4) {
          return make_error(ErrorCode::kInvalidArgument, "stops.txt:" + std::to_string(parents[i].line) +
                                                             ": parent_station chain loops");
        }
      }
      // A stop without a station stands for itself (a bus stop, a parentless platform).
      p_.stops[i].station = cur;
      // The specification: a stop with a parent station takes the station's time zone.
      const Index tz_source = p_.stops[i].parent != kNone ? cur : static_cast<Index>(i);
      const Index tz = own_tz[tz_source] != kNone ? own_tz[tz_source] : own_tz[i];
      p_.stops[i].time_zone = tz == kNone ? 0 : tz;
    }
    return {};
  }

  Status load_routes_and_networks() {
    auto routes = open("routes.txt");
    if (!routes) return std::unexpected(routes.error());
    auto networks = open("networks.txt");
    if (!networks) return std::unexpected(networks.error());
    auto route_networks = open("route_networks.txt");
    if (!route_networks) return std::unexpected(route_networks.error());

    if (routes->has_value()) {
      CsvTable& t = **routes;
      auto id_col = required_column(t, "route_id");
      if (!id_col) return std::unexpected(id_col.error());
      const int net_col = t.column("network_id");
      while (true) {
        auto more = t.next();
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        const auto id = t.field(*id_col);
        if (id.empty()) return fail(t, "route_id is empty");
        if (p_.route_ids.find(id) != kNone) return fail(t, "duplicate route_id " + id_text(id));
        p_.route_ids.intern(id);
        Route r;
        if (const auto net = t.field(net_col); !net.empty()) {
          // The specification forbids routes.network_id together with networks.txt or
          // route_networks.txt: the two ways of naming networks must not disagree.
          if (networks->has_value() || route_networks->has_value()) {
            return fail(t, "network_id is set in routes.txt while networks.txt or route_networks.txt exists");
          }
          r.network = p_.network_ids.intern(net);
        }
        p_.routes.push_back(r);
      }
    }
    if (networks->has_value()) {
      CsvTable& t = **networks;
      auto id_col = required_column(t, "network_id");
      if (!id_col) return std::unexpected(id_col.error());
      while (true) {
        auto more = t.next();
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        const auto id = t.field(*id_col);
        if (id.empty()) return fail(t, "network_id is empty");
        if (p_.network_ids.find(id) != kNone) return fail(t, "duplicate network_id " + id_text(id));
        p_.network_ids.intern(id);
      }
    }
    if (route_networks->has_value()) {
      CsvTable& t = **route_networks;
      auto net_col = required_column(t, "network_id");
      if (!net_col) return std::unexpected(net_col.error());
      auto route_col = required_column(t, "route_id");
      if (!route_col) return std::unexpected(route_col.error());
      while (true) {
        auto more = t.next();
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        auto net = reference(t, p_.network_ids, t.field(*net_col), "network_id", "networks.txt");
        if (!net) return std::unexpected(net.error());
        auto route = reference(t, p_.route_ids, t.field(*route_col), "route_id", "routes.txt");
        if (!route) return std::unexpected(route.error());
        if (*net == kNone) return fail(t, "network_id is empty");
        if (*route == kNone) return fail(t, "route_id is empty");
        if (p_.routes[*route].network != kNone) {
          return fail(t, "route_id " + id_text(t.field(*route_col)) + " is already in a network");
        }
        p_.routes[*route].network = *net;
      }
    }
    return {};
  }

  Status load_services() {
    auto calendar = open("calendar.txt");
    if (!calendar) return std::unexpected(calendar.error());
    struct Weekly {
      std::int32_t start, end;
      bool days[7];
    };
    std::vector<std::optional<Weekly>> weekly;
    if (calendar->has_value()) {
      CsvTable& t = **calendar;
      static constexpr std::string_view kDays[7] = {"monday", "tuesday", "wednesday", "thursday",
                                                    "friday", "saturday", "sunday"};
      int day_cols[7];
      for (int d = 0; d < 7; ++d) {
        auto c = required_column(t, kDays[d]);
        if (!c) return std::unexpected(c.error());
        day_cols[d] = *c;
      }
      auto id_col = required_column(t, "service_id");
      if (!id_col) return std::unexpected(id_col.error());
      auto start_col = required_column(t, "start_date");
      if (!start_col) return std::unexpected(start_col.error());
      auto end_col = required_column(t, "end_date");
      if (!end_col) return std::unexpected(end_col.error());
      while (true) {
        auto more = t.next();
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        const auto id = t.field(*id_col);
        if (id.empty()) return fail(t, "service_id is empty");
        if (p_.services.find(id) != kNone) return fail(t, "duplicate service_id " + id_text(id));
        Weekly w{};
        for (int d = 0; d < 7; ++d) {
          const auto v = t.field(day_cols[d]);
          if (v != "0" && v != "1") return fail(t, std::string(kDays[d]) + " " + id_text(v) + " is not 0 or 1");
          w.days[d] = v == "1";
        }
        auto start = parse_gtfs_date(t.field(*start_col));
        if (!start) return fail(t, "start_date " + id_text(t.field(*start_col)) + " is not a YYYYMMDD date");
        auto end = parse_gtfs_date(t.field(*end_col));
        if (!end) return fail(t, "end_date " + id_text(t.field(*end_col)) + " is not a YYYYMMDD date");
        if (*end < *start) return fail(t, "end_date is before start_date");
        if (*end - *start >= kMaxServiceDays) return fail(t, "service date range is longer than 30 years");
        w.start = *start;
        w.end = *end;
        p_.services.intern(id);
        weekly.emplace_back(w);
      }
    }
    // calendar_dates.txt may add services of its own.
    auto dates = open("calendar_dates.txt");
    if (!dates) return std::unexpected(dates.error());
    struct Exception {
      Index service;
      std::int32_t day;
      bool added;
    };
    std::vector<Exception> exceptions;
    if (dates->has_value()) {
      CsvTable& t = **dates;
      auto id_col = required_column(t, "service_id");
      if (!id_col) return std::unexpected(id_col.error());
      auto date_col = required_column(t, "date");
      if (!date_col) return std::unexpected(date_col.error());
      auto type_col = required_column(t, "exception_type");
      if (!type_col) return std::unexpected(type_col.error());
      while (true) {
        auto more = t.next();
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        const auto id = t.field(*id_col);
        if (id.empty()) return fail(t, "service_id is empty");
        auto day = parse_gtfs_date(t.field(*date_col));
        if (!day) return fail(t, "date " + id_text(t.field(*date_col)) + " is not a YYYYMMDD date");
        const auto type = t.field(*type_col);
        if (type != "1" && type != "2") return fail(t, "exception_type " + id_text(type) + " is not 1 or 2");
        const Index service = p_.services.intern(id);
        if (service >= weekly.size()) weekly.emplace_back(std::nullopt);
        exceptions.push_back({service, *day, type == "1"});
      }
    }
    p_.service_dates.resize(p_.services.size());
    for (std::size_t s = 0; s < p_.service_dates.size(); ++s) {
      std::int32_t lo = INT32_MAX, hi = INT32_MIN;
      if (weekly[s]) {
        lo = weekly[s]->start;
        hi = weekly[s]->end;
      }
      for (const auto& e : exceptions) {
        if (e.service != s || !e.added) continue;
        lo = std::min(lo, e.day);
        hi = std::max(hi, e.day);
      }
      Service& out = p_.service_dates[s];
      if (lo > hi) continue;  // a service with only removed dates never runs
      if (hi - lo >= kMaxServiceDays) {
        return make_error(ErrorCode::kInvalidArgument, "calendar_dates.txt: service " +
                                                           id_text(p_.services.name(static_cast<Index>(s))) +
                                                           " spans more than 30 years");
      }
      out.first_day = lo;
      out.active.assign(static_cast<std::size_t>(hi - lo + 1), false);
      if (weekly[s]) {
        for (std::int32_t d = weekly[s]->start; d <= weekly[s]->end; ++d) {
          out.active[static_cast<std::size_t>(d - lo)] = weekly[s]->days[weekday_monday0(d)];
        }
      }
    }
    for (const auto& e : exceptions) {
      Service& out = p_.service_dates[e.service];
      const std::int64_t i = static_cast<std::int64_t>(e.day) - out.first_day;
      if (i < 0 || i >= static_cast<std::int64_t>(out.active.size())) continue;  // removal outside range
      out.active[static_cast<std::size_t>(i)] = e.added;
    }
    return {};
  }

  Status load_areas() {
    auto areas = open("areas.txt");
    if (!areas) return std::unexpected(areas.error());
    if (areas->has_value()) {
      CsvTable& t = **areas;
      auto id_col = required_column(t, "area_id");
      if (!id_col) return std::unexpected(id_col.error());
      while (true) {
        auto more = t.next();
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        const auto id = t.field(*id_col);
        if (id.empty()) return fail(t, "area_id is empty");
        if (p_.area_ids.find(id) != kNone) return fail(t, "duplicate area_id " + id_text(id));
        p_.area_ids.intern(id);
      }
    }
    std::vector<std::vector<Index>> own(p_.stops.size());
    auto stop_areas = open("stop_areas.txt");
    if (!stop_areas) return std::unexpected(stop_areas.error());
    if (stop_areas->has_value()) {
      CsvTable& t = **stop_areas;
      auto area_col = required_column(t, "area_id");
      if (!area_col) return std::unexpected(area_col.error());
      auto stop_col = required_column(t, "stop_id");
      if (!stop_col) return std::unexpected(stop_col.error());
      while (true) {
        auto more = t.next();
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        auto area = reference(t, p_.area_ids, t.field(*area_col), "area_id", "areas.txt");
        if (!area) return std::unexpected(area.error());
        auto stop = reference(t, p_.stop_ids, t.field(*stop_col), "stop_id", "stops.txt");
        if (!stop) return std::unexpected(stop.error());
        if (*area == kNone) return fail(t, "area_id is empty");
        if (*stop == kNone) return fail(t, "stop_id is empty");
        auto& list = own[*stop];
        if (std::find(list.begin(), list.end(), *area) == list.end()) list.push_back(*area);
      }
    }
    // A stop's areas are its own; without any, those of its parent (a station's areas cover
    // its platforms and entrances unless a platform is assigned elsewhere).
    for (std::size_t i = 0; i < p_.stops.size(); ++i) {
      Index cur = static_cast<Index>(i);
      while (own[cur].empty() && p_.stops[cur].parent != kNone) cur = p_.stops[cur].parent;
      auto list = own[cur];
      std::sort(list.begin(), list.end());
      p_.stops[i].area_begin = static_cast<std::uint32_t>(p_.stop_area_list.size());
      p_.stops[i].area_count = static_cast<std::uint32_t>(list.size());
      p_.stop_area_list.insert(p_.stop_area_list.end(), list.begin(), list.end());
    }
    return {};
  }

  Status load_timeframes() {
    auto opened = open("timeframes.txt");
    if (!opened) return std::unexpected(opened.error());
    std::vector<std::pair<Index, Timeframe>> rows;
    if (opened->has_value()) {
      CsvTable& t = **opened;
      auto group_col = required_column(t, "timeframe_group_id");
      if (!group_col) return std::unexpected(group_col.error());
      auto service_col = required_column(t, "service_id");
      if (!service_col) return std::unexpected(service_col.error());
      const int start_col = t.column("start_time");
      const int end_col = t.column("end_time");
      while (true) {
        auto more = t.next();
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        const auto group = t.field(*group_col);
        if (group.empty()) return fail(t, "timeframe_group_id is empty");
        auto service = reference(t, p_.services, t.field(*service_col), "service_id",
                                 "calendar.txt or calendar_dates.txt");
        if (!service) return std::unexpected(service.error());
        if (*service == kNone) return fail(t, "service_id is empty");
        Timeframe tf;
        tf.service = *service;
        const auto start = t.field(start_col);
        const auto end = t.field(end_col);
        if (start.empty() != end.empty()) {
          return fail(t, "start_time and end_time must both be set or both be empty");
        }
        if (!start.empty()) {
          auto s = parse_gtfs_time(start);
          if (!s || *s > 86400) return fail(t, "start_time " + id_text(start) + " is not a time up to 24:00:00");
          auto e = parse_gtfs_time(end);
          if (!e || *e > 86400) return fail(t, "end_time " + id_text(end) + " is not a time up to 24:00:00");
          if (*e < *s) return fail(t, "end_time is before start_time");
          tf.start_s = *s;
          tf.end_s = *e;
        }
        rows.emplace_back(p_.timeframe_groups.intern(group), tf);
      }
    }
    std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    p_.timeframe_begin.assign(p_.timeframe_groups.size() + 1, 0);
    for (const auto& [group, tf] : rows) {
      p_.timeframes.push_back(tf);
      ++p_.timeframe_begin[group + 1];
    }
    for (std::size_t g = 1; g < p_.timeframe_begin.size(); ++g) p_.timeframe_begin[g] += p_.timeframe_begin[g - 1];
    return {};
  }

  Status load_rider_categories() {
    auto opened = open("rider_categories.txt");
    if (!opened) return std::unexpected(opened.error());
    if (!opened->has_value()) return {};
    CsvTable& t = **opened;
    auto id_col = required_column(t, "rider_category_id");
    if (!id_col) return std::unexpected(id_col.error());
    const int default_col = t.column("is_default_fare_category");
    while (true) {
      auto more = t.next();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      const auto id = t.field(*id_col);
      if (id.empty()) return fail(t, "rider_category_id is empty");
      if (p_.rider_categories_ids.find(id) != kNone) return fail(t, "duplicate rider_category_id " + id_text(id));
      const auto def = t.field(default_col);
      if (!def.empty() && def != "0" && def != "1") {
        return fail(t, "is_default_fare_category " + id_text(def) + " is not 0 or 1");
      }
      p_.rider_categories_ids.intern(id);
      p_.rider_categories.push_back({def == "1"});
    }
    return {};
  }

  Status load_fare_media() {
    auto opened = open("fare_media.txt");
    if (!opened) return std::unexpected(opened.error());
    if (!opened->has_value()) return {};
    CsvTable& t = **opened;
    auto id_col = required_column(t, "fare_media_id");
    if (!id_col) return std::unexpected(id_col.error());
    auto type_col = required_column(t, "fare_media_type");
    if (!type_col) return std::unexpected(type_col.error());
    while (true) {
      auto more = t.next();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      const auto id = t.field(*id_col);
      if (id.empty()) return fail(t, "fare_media_id is empty");
      if (p_.fare_media_ids.find(id) != kNone) return fail(t, "duplicate fare_media_id " + id_text(id));
      auto type = parse_int(t.field(*type_col));
      if (!type || *type < 0 || *type > 4) {
        return fail(t, "fare_media_type " + id_text(t.field(*type_col)) + " is not 0..4");
      }
      p_.fare_media_ids.intern(id);
      p_.fare_media.push_back({static_cast<int>(*type)});
    }
    return {};
  }

  Status load_fare_products() {
    auto opened = open("fare_products.txt");
    if (!opened) return std::unexpected(opened.error());
    std::vector<std::pair<Index, FareProductPrice>> rows;
    if (opened->has_value()) {
      CsvTable& t = **opened;
      auto id_col = required_column(t, "fare_product_id");
      if (!id_col) return std::unexpected(id_col.error());
      auto amount_col = required_column(t, "amount");
      if (!amount_col) return std::unexpected(amount_col.error());
      auto currency_col = required_column(t, "currency");
      if (!currency_col) return std::unexpected(currency_col.error());
      const int cat_col = t.column("rider_category_id");
      const int media_col = t.column("fare_media_id");
      std::set<std::tuple<Index, Index, Index>> keys;
      std::uint32_t currency_line = 0;
      while (true) {
        auto more = t.next();
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        const auto id = t.field(*id_col);
        if (id.empty()) return fail(t, "fare_product_id is empty");
        auto currency = CurrencyCode::parse(t.field(*currency_col));
        if (!currency) return fail(t, "currency " + id_text(t.field(*currency_col)) + ": " + currency.error().message);
        if (p_.currency.empty()) {
          p_.currency = *currency;
          currency_line = t.line();
        } else if (!(*currency == p_.currency)) {
          // One policy prices in one currency: a charge and its cap must add up.
          return fail(t, "currency " + std::string(currency->str()) + " differs from " +
                             std::string(p_.currency.str()) + " used on line " + std::to_string(currency_line));
        }
        auto amount = parse_amount(t.field(*amount_col), *currency);
        if (!amount) return fail(t, "amount: " + amount.error().message);
        auto cat = reference(t, p_.rider_categories_ids, t.field(cat_col), "rider_category_id", "rider_categories.txt");
        if (!cat) return std::unexpected(cat.error());
        auto media = reference(t, p_.fare_media_ids, t.field(media_col), "fare_media_id", "fare_media.txt");
        if (!media) return std::unexpected(media.error());
        const Index product = p_.fare_products_ids.intern(id);
        if (!keys.emplace(product, *cat, *media).second) {
          return fail(t, "duplicate fare product " + id_text(id) + " for the same rider category and fare media");
        }
        rows.emplace_back(product, FareProductPrice{*cat, *media, *amount});
      }
    }
    std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    p_.product_price_begin.assign(p_.fare_products_ids.size() + 1, 0);
    for (const auto& [product, price] : rows) {
      p_.product_prices.push_back(price);
      ++p_.product_price_begin[product + 1];
    }
    for (std::size_t i = 1; i < p_.product_price_begin.size(); ++i)
      p_.product_price_begin[i] += p_.product_price_begin[i - 1];
    // The default rider category: the specification asks for exactly one default among the
    // categories of a product; Faregate uses the feed's single default, when it has one.
    Index def = kNone;
    int defaults = 0;
    for (std::size_t i = 0; i < p_.rider_categories.size(); ++i) {
      if (p_.rider_categories[i].is_default) {
        def = static_cast<Index>(i);
        ++defaults;
      }
    }
    p_.default_rider_category = defaults == 1 ? def : kNone;
    return {};
  }

  Status load_leg_rules() {
    auto opened = open("fare_leg_rules.txt");
    if (!opened) return std::unexpected(opened.error());
    if (!opened->has_value()) return {};
    CsvTable& t = **opened;
    auto product_col = required_column(t, "fare_product_id");
    if (!product_col) return std::unexpected(product_col.error());
    const int group_col = t.column("leg_group_id");
    const int net_col = t.column("network_id");
    const int from_col = t.column("from_area_id");
    const int to_col = t.column("to_area_id");
    const int from_tf_col = t.column("from_timeframe_group_id");
    const int to_tf_col = t.column("to_timeframe_group_id");
    const int priority_col = t.column("rule_priority");
    // The presence of the column, not of values, selects the matching semantics.
    p_.has_rule_priority = priority_col >= 0;
    std::set<std::tuple<Index, Index, Index, Index, Index, Index>> keys;
    while (true) {
      auto more = t.next();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      FareLegRule r;
      r.line = t.line();
      auto net = reference(t, p_.network_ids, t.field(net_col), "network_id", "routes.txt or networks.txt");
      if (!net) return std::unexpected(net.error());
      auto from = reference(t, p_.area_ids, t.field(from_col), "from_area_id", "areas.txt");
      if (!from) return std::unexpected(from.error());
      auto to = reference(t, p_.area_ids, t.field(to_col), "to_area_id", "areas.txt");
      if (!to) return std::unexpected(to.error());
      auto from_tf = reference(t, p_.timeframe_groups, t.field(from_tf_col), "from_timeframe_group_id", "timeframes.txt");
      if (!from_tf) return std::unexpected(from_tf.error());
      auto to_tf = reference(t, p_.timeframe_groups, t.field(to_tf_col), "to_timeframe_group_id", "timeframes.txt");
      if (!to_tf) return std::unexpected(to_tf.error());
      auto product = reference(t, p_.fare_products_ids, t.field(*product_col), "fare_product_id", "fare_products.txt");
      if (!product) return std::unexpected(product.error());
      if (*product == kNone) return fail(t, "fare_product_id is empty");
      r.network = *net;
      r.from_area = *from;
      r.to_area = *to;
      r.from_timeframe = *from_tf;
      r.to_timeframe = *to_tf;
      r.fare_product = *product;
      if (const auto pr = t.field(priority_col); !pr.empty()) {
        auto v = parse_int(pr);
        if (!v || *v < 0 || *v > INT32_MAX) return fail(t, "rule_priority " + id_text(pr) + " is not a non-negative integer");
        r.priority = static_cast<std::int32_t>(*v);
      }
      if (!keys.emplace(r.network, r.from_area, r.to_area, r.from_timeframe, r.to_timeframe, r.fare_product).second) {
        return fail(t, "duplicate fare leg rule (same network, areas, timeframes and product)");
      }
      if (const auto g = t.field(group_col); !g.empty()) r.leg_group = p_.leg_groups.intern(g);
      p_.leg_rules.push_back(r);
    }
    return {};
  }

  Status load_join_rules() {
    auto opened = open("fare_leg_join_rules.txt");
    if (!opened) return std::unexpected(opened.error());
    if (!opened->has_value()) return {};
    CsvTable& t = **opened;
    auto from_net_col = required_column(t, "from_network_id");
    if (!from_net_col) return std::unexpected(from_net_col.error());
    auto to_net_col = required_column(t, "to_network_id");
    if (!to_net_col) return std::unexpected(to_net_col.error());
    const int from_stop_col = t.column("from_stop_id");
    const int to_stop_col = t.column("to_stop_id");
    while (true) {
      auto more = t.next();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      FareLegJoinRule r;
      auto from_net = reference(t, p_.network_ids, t.field(*from_net_col), "from_network_id", "routes.txt or networks.txt");
      if (!from_net) return std::unexpected(from_net.error());
      auto to_net = reference(t, p_.network_ids, t.field(*to_net_col), "to_network_id", "routes.txt or networks.txt");
      if (!to_net) return std::unexpected(to_net.error());
      if (*from_net == kNone || *to_net == kNone) return fail(t, "from_network_id and to_network_id are required");
      if (*from_net != *to_net) {
        // The specification allows joins within one network only (for now).
        return fail(t, "from_network_id and to_network_id must be the same network");
      }
      auto from_stop = reference(t, p_.stop_ids, t.field(from_stop_col), "from_stop_id", "stops.txt");
      if (!from_stop) return std::unexpected(from_stop.error());
      auto to_stop = reference(t, p_.stop_ids, t.field(to_stop_col), "to_stop_id", "stops.txt");
      if (!to_stop) return std::unexpected(to_stop.error());
      if ((*from_stop == kNone) != (*to_stop == kNone)) {
        return fail(t, "from_stop_id and to_stop_id must both be set or both be empty");
      }
      r.from_network = *from_net;
      r.to_network = *to_net;
      r.from_stop = *from_stop;
      r.to_stop = *to_stop;
      p_.join_rules.push_back(r);
    }
    return {};
  }

  Status load_transfer_rules() {
    auto opened = open("fare_transfer_rules.txt");
    if (!opened) return std::unexpected(opened.error());
    if (!opened->has_value()) return {};
    CsvTable& t = **opened;
    auto type_col = required_column(t, "fare_transfer_type");
    if (!type_col) return std::unexpected(type_col.error());
    const int from_col = t.column("from_leg_group_id");
    const int to_col = t.column("to_leg_group_id");
    const int count_col = t.column("transfer_count");
    const int limit_col = t.column("duration_limit");
    const int limit_type_col = t.column("duration_limit_type");
    const int product_col = t.column("fare_product_id");
    std::set<std::tuple<Index, Index, Index, std::int32_t, std::int32_t>> keys;
    while (true) {
      auto more = t.next();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      FareTransferRule r;
      r.line = t.line();
      auto from = reference(t, p_.leg_groups, t.field(from_col), "from_leg_group_id", "fare_leg_rules.txt leg_group_id");
      if (!from) return std::unexpected(from.error());
      auto to = reference(t, p_.leg_groups, t.field(to_col), "to_leg_group_id", "fare_leg_rules.txt leg_group_id");
      if (!to) return std::unexpected(to.error());
      auto product = reference(t, p_.fare_products_ids, t.field(product_col), "fare_product_id", "fare_products.txt");
      if (!product) return std::unexpected(product.error());
      r.from_leg_group = *from;
      r.to_leg_group = *to;
      r.fare_product = *product;
      const auto type = t.field(*type_col);
      if (type != "0" && type != "1" && type != "2") return fail(t, "fare_transfer_type " + id_text(type) + " is not 0, 1 or 2");
      r.fare_transfer_type = static_cast<std::int8_t>(type[0] - '0');
      const bool same_groups = r.from_leg_group == r.to_leg_group;
      if (const auto count = t.field(count_col); !count.empty()) {
        auto v = parse_int(count);
        if (!v || *v == 0 || *v < -1 || *v > INT32_MAX) return fail(t, "transfer_count " + id_text(count) + " is not -1 or a positive integer");
        if (!same_groups) return fail(t, "transfer_count is forbidden when from_leg_group_id differs from to_leg_group_id");
        r.transfer_count = static_cast<std::int32_t>(*v);
      } else if (same_groups) {
        return fail(t, "transfer_count is required when from_leg_group_id equals to_leg_group_id");
      }
      const auto limit = t.field(limit_col);
      const auto limit_type = t.field(limit_type_col);
      if (!limit.empty()) {
        auto v = parse_int(limit);
        if (!v || *v <= 0 || *v > INT32_MAX) return fail(t, "duration_limit " + id_text(limit) + " is not a positive integer");
        r.duration_limit_s = static_cast<std::int32_t>(*v);
        if (limit_type != "0" && limit_type != "1" && limit_type != "2" && limit_type != "3") {
          return fail(t, "duration_limit_type " + id_text(limit_type) + " must be 0..3 when duration_limit is set");
        }
        r.duration_limit_type = static_cast<std::int8_t>(limit_type[0] - '0');
      } else if (!limit_type.empty()) {
        return fail(t, "duration_limit_type is forbidden without duration_limit");
      }
      if (!keys.emplace(r.from_leg_group, r.to_leg_group, r.fare_product, r.transfer_count, r.duration_limit_s).second) {
        return fail(t, "duplicate fare transfer rule");
      }
      p_.transfer_rules.push_back(r);
    }
    return {};
  }

  Status load_caps() {
    auto opened = open(kFareCapsFile);
    if (!opened) return std::unexpected(opened.error());
    if (!opened->has_value()) return {};
    CsvTable& t = **opened;
    auto id_col = required_column(t, "cap_id");
    if (!id_col) return std::unexpected(id_col.error());
    auto period_col = required_column(t, "cap_period");
    if (!period_col) return std::unexpected(period_col.error());
    const int days_col = t.column("rolling_days");
    const int amount_col = t.column("max_amount");
    const int currency_col = t.column("currency");
    const int rides_col = t.column("max_paid_rides");
    const int cat_col = t.column("rider_category_id");
    const int media_col = t.column("fare_media_id");
    const int net_col = t.column("network_id");
    while (true) {
      auto more = t.next();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      const auto id = t.field(*id_col);
      if (id.empty()) return fail(t, "cap_id is empty");
      if (p_.cap_ids.find(id) != kNone) return fail(t, "duplicate cap_id " + id_text(id));
      FareCap cap;
      const auto period = t.field(*period_col);
      if (period != "0" && period != "1" && period != "2") return fail(t, "cap_period " + id_text(period) + " is not 0, 1 or 2");
      cap.period = static_cast<CapPeriod>(period[0] - '0');
      if (const auto days = t.field(days_col); !days.empty()) {
        if (cap.period != CapPeriod::kRolling) return fail(t, "rolling_days is only allowed with cap_period 2");
        auto v = parse_int(days);
        if (!v || *v < 1 || *v > 366) return fail(t, "rolling_days " + id_text(days) + " is not 1..366");
        cap.rolling_days = static_cast<std::int32_t>(*v);
      }
      const auto amount = t.field(amount_col);
      const auto rides = t.field(rides_col);
      if (amount.empty() == rides.empty()) return fail(t, "exactly one of max_amount and max_paid_rides must be set");
      if (!amount.empty()) {
        auto currency = CurrencyCode::parse(t.field(currency_col));
        if (!currency) return fail(t, "currency " + id_text(t.field(currency_col)) + " is required with max_amount");
        if (!p_.currency.empty() && !(*currency == p_.currency)) {
          return fail(t, "currency " + std::string(currency->str()) + " differs from the fare products' " +
                             std::string(p_.currency.str()));
        }
        auto v = parse_amount(amount, *currency);
        if (!v || *v < 0) return fail(t, "max_amount " + id_text(amount) + " is not a non-negative amount");
        cap.has_max_amount = true;
        cap.max_amount = *v;
      } else {
        auto v = parse_int(rides);
        if (!v || *v < 1 || *v > 100000) return fail(t, "max_paid_rides " + id_text(rides) + " is not a positive integer");
        cap.max_paid_rides = static_cast<std::int32_t>(*v);
      }
      auto cat = reference(t, p_.rider_categories_ids, t.field(cat_col), "rider_category_id", "rider_categories.txt");
      if (!cat) return std::unexpected(cat.error());
      auto media = reference(t, p_.fare_media_ids, t.field(media_col), "fare_media_id", "fare_media.txt");
      if (!media) return std::unexpected(media.error());
      auto net = reference(t, p_.network_ids, t.field(net_col), "network_id", "routes.txt or networks.txt");
      if (!net) return std::unexpected(net.error());
      cap.rider_category = *cat;
      cap.fare_media = *media;
      cap.network = *net;
      cap.cap_id = p_.cap_ids.intern(id);
      p_.caps.push_back(cap);
    }
    return {};
  }

  Status load_stop_networks() {
    std::vector<std::vector<Index>> nets(p_.stops.size());
    auto trips = open("trips.txt");
    if (!trips) return std::unexpected(trips.error());
    if (trips->has_value()) {
      CsvTable& t = **trips;
      auto trip_col = required_column(t, "trip_id");
      if (!trip_col) return std::unexpected(trip_col.error());
      auto route_col = required_column(t, "route_id");
      if (!route_col) return std::unexpected(route_col.error());
      Interner trip_ids;
      std::vector<Index> trip_network;
      while (true) {
        auto more = t.next();
        if (!more) return std::unexpected(more.error());
        if (!*more) break;
        auto route = reference(t, p_.route_ids, t.field(*route_col), "route_id", "routes.txt");
        if (!route) return std::unexpected(route.error());
        const Index trip = trip_ids.intern(t.field(*trip_col));
        if (trip >= trip_network.size()) trip_network.resize(trip + 1, kNone);
        trip_network[trip] = *route == kNone ? kNone : p_.routes[*route].network;
      }
      auto stop_times = open("stop_times.txt");
      if (!stop_times) return std::unexpected(stop_times.error());
      if (stop_times->has_value()) {
        CsvTable& st = **stop_times;
        auto st_trip_col = required_column(st, "trip_id");
        if (!st_trip_col) return std::unexpected(st_trip_col.error());
        const int st_stop_col = st.column("stop_id");
        while (true) {
          auto more = st.next();
          if (!more) return std::unexpected(more.error());
          if (!*more) break;
          const Index trip = trip_ids.find(st.field(*st_trip_col));
          if (trip == kNone || trip_network[trip] == kNone) continue;
          const Index stop = p_.stop_ids.find(st.field(st_stop_col));
          if (stop == kNone) continue;  // flex locations and the like: not a fare concern here
          const Index net = trip_network[trip];
          for (Index s : {stop, p_.stops[stop].station}) {
            auto& list = nets[s];
            if (std::find(list.begin(), list.end(), net) == list.end()) list.push_back(net);
          }
        }
      }
    }
    for (std::size_t i = 0; i < p_.stops.size(); ++i) {
      // A gate or entrance takes the networks of its station.
      auto& list = nets[i].empty() ? nets[p_.stops[i].station] : nets[i];
      std::sort(list.begin(), list.end());
      p_.stops[i].network_begin = static_cast<std::uint32_t>(p_.stop_network_list.size());
      p_.stops[i].network_count = static_cast<std::uint32_t>(list.size());
      p_.stop_network_list.insert(p_.stop_network_list.end(), list.begin(), list.end());
    }
    return {};
  }

  void finish() {
    if (!options_.stop_networks_from_trips) {
      for (auto& s : p_.stops) s.network_begin = s.network_count = 0;
    }
    const std::size_t networks = p_.network_ids.size();
    const std::size_t areas = p_.area_ids.size();
    p_.network_listed_in_leg_rules.assign(networks, false);
    p_.from_area_listed_in_leg_rules.assign(areas, false);
    p_.to_area_listed_in_leg_rules.assign(areas, false);
    for (const auto& r : p_.leg_rules) {
      if (r.network != kNone) p_.network_listed_in_leg_rules[r.network] = true;
      if (r.from_area != kNone) p_.from_area_listed_in_leg_rules[r.from_area] = true;
      if (r.to_area != kNone) p_.to_area_listed_in_leg_rules[r.to_area] = true;
      if (r.from_timeframe != kNone || r.to_timeframe != kNone) p_.has_timeframe_rules = true;
    }
    // Candidate rules per leg network. With rule_priority an empty network_id matches every
    // leg; without it, only legs whose network no rule lists.
    p_.rules_by_network.assign(networks + 1, {});
    for (std::uint32_t i = 0; i < p_.leg_rules.size(); ++i) {
      const auto& r = p_.leg_rules[i];
      for (std::size_t n = 0; n <= networks; ++n) {
        bool match;
        if (r.network != kNone) {
          match = r.network == n;
        } else if (p_.has_rule_priority) {
          match = true;
        } else {
          match = n == networks || !p_.network_listed_in_leg_rules[n];
        }
        if (match) p_.rules_by_network[n].push_back(i);
      }
    }
    p_.from_group_listed_in_transfers.assign(p_.leg_groups.size(), false);
    p_.to_group_listed_in_transfers.assign(p_.leg_groups.size(), false);
    for (const auto& r : p_.transfer_rules) {
      if (r.from_leg_group != kNone) p_.from_group_listed_in_transfers[r.from_leg_group] = true;
      if (r.to_leg_group != kNone) p_.to_group_listed_in_transfers[r.to_leg_group] = true;
    }
    std::set<std::vector<Index>> sets;
    for (std::size_t i = 0; i < p_.stops.size(); ++i) {
      auto a = p_.areas_of(static_cast<Index>(i));
      if (!a.empty()) sets.emplace(a.begin(), a.end());
    }
    p_.distinct_area_sets.assign(sets.begin(), sets.end());
    if (p_.product_price_begin.empty()) p_.product_price_begin.assign(1, 0);
    if (p_.timeframe_begin.empty()) p_.timeframe_begin.assign(1, 0);
  }

  const FeedSource& source_;
  const LoadOptions& options_;
  FarePolicy p_;
  std::deque<std::string> texts_;  // file contents the open tables point into
};

}  // namespace

Result<FarePolicy> load_gtfs_fares(const FeedSource& source, const LoadOptions& options) {
  Loader loader(source, options);
  return loader.run();
}

}  // namespace faregate::fares
