#include "backoffice/fares/local_time.h"

#include <date/tz.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>

namespace faregate::fares {

Result<TimeZone> TimeZone::locate(std::string_view name) {
  TimeZone tz;
  tz.name_ = std::string(name);
  if (name == "UTC" || name == "Etc/UTC") return tz;
  try {
    tz.zone_ = date::locate_zone(name);
  } catch (const std::exception& e) {
    // date throws std::runtime_error for an unknown zone or a missing tz database.
    return make_error(ErrorCode::kNotFound, "unknown time zone '" + std::string(name) + "': " + e.what());
  }
  return tz;
}

TimeZone TimeZone::utc() {
  TimeZone tz;
  tz.name_ = "UTC";
  return tz;
}

TimeZone::OffsetPeriod TimeZone::offset_period(std::int64_t utc_seconds) const {
  if (zone_ == nullptr) return {0, INT64_MIN / 2, INT64_MAX / 2};
  const auto info = zone_->get_info(date::sys_seconds{std::chrono::seconds{utc_seconds}});
  return {static_cast<std::int32_t>(info.offset.count()), info.begin.time_since_epoch().count(),
          info.end.time_since_epoch().count()};
}

std::int32_t LocalClock::offset_at(std::int64_t utc_ms) {
  const std::int64_t s = floor_div(utc_ms, 1000);
  if (s >= cached_begin_s_ && s < cached_end_s_) return cached_offset_;
  // One lookup also tells the whole period during which this offset holds.
  const auto period = zone_->offset_period(s);
  cached_begin_s_ = period.begin_s;
  cached_end_s_ = period.end_s;
  cached_offset_ = period.offset_s;
  return cached_offset_;
}

LocalMoment LocalClock::to_local(std::int64_t utc_ms) {
  const std::int64_t local_s = floor_div(utc_ms, 1000) + offset_at(utc_ms);
  const std::int64_t day = floor_div(local_s, 86400);
  return LocalMoment{static_cast<std::int32_t>(day), static_cast<std::int32_t>(local_s - day * 86400)};
}

std::int32_t LocalClock::service_day(std::int64_t utc_ms, std::int32_t service_day_start_seconds) {
  const std::int64_t local_s = floor_div(utc_ms, 1000) + offset_at(utc_ms);
  return static_cast<std::int32_t>(floor_div(local_s - service_day_start_seconds, 86400));
}

std::int32_t days_from_civil(int year, unsigned month, unsigned day) {
  const auto ymd = std::chrono::year{year} / std::chrono::month{month} / std::chrono::day{day};
  return static_cast<std::int32_t>(std::chrono::sys_days{ymd}.time_since_epoch().count());
}

std::string format_date(std::int32_t day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string format_iso8601(std::int64_t utc_ms, std::int32_t offset_s) {
  const std::int64_t local_ms = utc_ms + static_cast<std::int64_t>(offset_s) * 1000;
  const std::int64_t day = floor_div(local_ms, 86'400'000);
  const std::int64_t ms_of_day = local_ms - day * 86'400'000;
  const int h = static_cast<int>(ms_of_day / 3'600'000);
  const int m = static_cast<int>(ms_of_day / 60'000 % 60);
  const int s = static_cast<int>(ms_of_day / 1000 % 60);
  const int ms = static_cast<int>(ms_of_day % 1000);
  const int off = offset_s < 0 ? -offset_s : offset_s;
  char buf[64];
  if (ms != 0) {
    std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02d.%03d%c%02d:%02d", format_date(static_cast<std::int32_t>(day)).c_str(),
                  h, m, s, ms, offset_s < 0 ? '-' : '+', off / 3600, off / 60 % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%sT%02d:%02d:%02d%c%02d:%02d", format_date(static_cast<std::int32_t>(day)).c_str(), h,
                  m, s, offset_s < 0 ? '-' : '+', off / 3600, off / 60 % 60);
  }
  return buf;
}

namespace {
bool digits(std::string_view s, std::size_t from, std::size_t count, int& out) {
  if (from + count > s.size()) return false;
  int v = 0;
  for (std::size_t i = from; i < from + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

bool valid_civil(int y, int m, int d) {
  const auto ymd = std::chrono::year{y} / std::chrono::month{static_cast<unsigned>(m)} /
                   std::chrono::day{static_cast<unsigned>(d)};
  return ymd.ok();
}
}  // namespace

std::optional<std::int32_t> parse_gtfs_date(std::string_view text) {
  int y = 0, m = 0, d = 0;
  if (text.size() != 8 || !digits(text, 0, 4, y) || !digits(text, 4, 2, m) || !digits(text, 6, 2, d)) {
    return std::nullopt;
  }
  if (!valid_civil(y, m, d)) return std::nullopt;
  return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

std::optional<std::int32_t> parse_gtfs_time(std::string_view text) {
  const auto first_colon = text.find(':');
  if (first_colon == std::string_view::npos || first_colon < 1 || first_colon > 3) return std::nullopt;
  int h = 0, m = 0, s = 0;
  if (!digits(text, 0, first_colon, h)) return std::nullopt;
  if (text.size() != first_colon + 6 || text[first_colon + 3] != ':') return std::nullopt;
  if (!digits(text, first_colon + 1, 2, m) || !digits(text, first_colon + 4, 2, s)) return std::nullopt;
  if (m > 59 || s > 59) return std::nullopt;
  return h * 3600 + m * 60 + s;
}

std::optional<std::int32_t> parse_hh_mm(std::string_view text) {
  int h = 0, m = 0;
  if (text.size() != 5 || text[2] != ':' || !digits(text, 0, 2, h) || !digits(text, 3, 2, m)) return std::nullopt;
  if (h > 23 || m > 59) return std::nullopt;
  return h * 3600 + m * 60;
}

Result<std::int64_t> parse_iso8601_utc_ms(std::string_view t) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidArgument,
                      "time '" + std::string(t) + "' is not ISO 8601 with an offset (" + std::string(why) +
                          "), e.g. 2026-03-02T08:15:00+01:00");
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!digits(t, 0, 4, y) || t.size() < 16 || t[4] != '-' || !digits(t, 5, 2, mo) || t[7] != '-' ||
      !digits(t, 8, 2, d) || (t[10] != 'T' && t[10] != ' ') || !digits(t, 11, 2, h) || t[13] != ':' ||
      !digits(t, 14, 2, mi)) {
    return bad("date and time");
  }
  if (!valid_civil(y, mo, d) || h > 23 || mi > 59) return bad("no such date or time");
  std::size_t i = 16;
  int ms = 0;
  if (i < t.size() && t[i] == ':') {
    if (!digits(t, i + 1, 2, s) || s > 60) return bad("seconds");
    i += 3;
    if (i < t.size() && (t[i] == '.' || t[i] == ',')) {
      ++i;
      int n = 0;
      while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
        if (n < 3) ms = ms * 10 + (t[i] - '0');
        ++n;
        ++i;
      }
      if (n == 0) return bad("fraction");
      for (; n < 3; ++n) ms *= 10;
    }
  }
  if (s == 60) s = 59;  // a leap second is clamped, not rejected
  int offset_s = 0;
  if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
    ++i;
  } else if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
    const int sign = t[i] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!digits(t, i + 1, 2, oh)) return bad("offset");
    std::size_t j = i + 3;
    if (j < t.size() && t[j] == ':') ++j;
    if (!digits(t, j, 2, om)) return bad("offset");
    if (oh > 18 || om > 59) return bad("offset");
    offset_s = sign * (oh * 3600 + om * 60);
    i = j + 2;
  } else {
    return bad("missing offset");
  }
  if (i != t.size()) return bad("trailing characters");
  const std::int64_t day = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const std::int64_t local_s = day * 86400 + h * 3600 + mi * 60 + s;
  return (local_s - offset_s) * 1000 + ms;
}

}  // namespace faregate::fares
