#pragma once
// Local time for fares: service days, timeframes and weekly caps are all defined on the agency's
// wall clock, while taps carry UTC epoch milliseconds. Conversions go through the IANA database
// of the system (Debian's tzdata) via the howardhinnant date library, because libstdc++ 12 has
// no std::chrono::zoned_time.
//
// Days are counted as integers: day 0 is 1970-01-01 (the local calendar date, not UTC).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace date {
class time_zone;
}

namespace faregate::fares {

// A local calendar date (days since 1970-01-01) and a wall-clock second within it.
struct LocalMoment {
  std::int32_t day = 0;
  std::int32_t second_of_day = 0;  // 0 .. 86399
};

class TimeZone {
 public:
  // Looks up an IANA name such as "Europe/London". Fails with kNotFound for an unknown name.
  static Result<TimeZone> locate(std::string_view name);
  // UTC, for tests and feeds that say so.
  static TimeZone utc();

  const std::string& name() const { return name_; }
  // Offset from UTC (seconds, east positive) in force at `utc_seconds`, and the UTC period
  // [begin_s, end_s) during which that offset holds.
  struct OffsetPeriod {
    std::int32_t offset_s = 0;
    std::int64_t begin_s = 0;
    std::int64_t end_s = 0;
  };
  OffsetPeriod offset_period(std::int64_t utc_seconds) const;
  std::int32_t offset_at(std::int64_t utc_seconds) const { return offset_period(utc_seconds).offset_s; }

 private:
  const date::time_zone* zone_ = nullptr;  // nullptr means UTC
  std::string name_;
};

// Converts many instants of one zone quickly: remembers the offset period of the last lookup
// (taps of one card and of one service day almost always fall in the same period).
// Not thread-safe: one per worker thread.
class LocalClock {
 public:
  explicit LocalClock(const TimeZone* zone) : zone_(zone) {}
  std::int32_t offset_at(std::int64_t utc_ms);
  LocalMoment to_local(std::int64_t utc_ms);
  // The service day of an instant: the local date of (local wall time - service_day_start).
  // A tap at 02:10 with a 04:30 start belongs to the previous day's service.
  std::int32_t service_day(std::int64_t utc_ms, std::int32_t service_day_start_seconds);

 private:
  const TimeZone* zone_;
  std::int64_t cached_begin_s_ = 1;  // empty range until the first lookup
  std::int64_t cached_end_s_ = 0;
  std::int32_t cached_offset_ = 0;
};

// floor(a / b) for b > 0.
inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// 0 = Monday ... 6 = Sunday.
inline int weekday_monday0(std::int32_t day) {
  // 1970-01-01 was a Thursday (3 with Monday = 0).
  return static_cast<int>(((static_cast<std::int64_t>(day) % 7) + 7 + 3) % 7);
}

// "2026-03-02" <-> day number.
std::string format_date(std::int32_t day);
// Parses "YYYYMMDD" (GTFS Date). Returns nullopt on anything else or an impossible date.
std::optional<std::int32_t> parse_gtfs_date(std::string_view text);
// Parses "HH:MM:SS" or "H:MM:SS" (GTFS Time) into seconds; hours may exceed 23.
std::optional<std::int32_t> parse_gtfs_time(std::string_view text);
// Parses "HH:MM" (a service day start) into seconds; 00:00 .. 23:59.
std::optional<std::int32_t> parse_hh_mm(std::string_view text);
// Parses ISO 8601 "YYYY-MM-DDTHH:MM[:SS[.fff]](Z|+HH:MM|-HH:MM|+HHMM)" into UTC epoch ms.
// An offset (or Z) is required: a local time without one is ambiguous.
Result<std::int64_t> parse_iso8601_utc_ms(std::string_view text);
// "2026-03-02T08:15:00-05:00": an instant as local time with its UTC offset (milliseconds are
// printed only when not zero).
std::string format_iso8601(std::int64_t utc_ms, std::int32_t offset_s);
// Day number of a civil date (proleptic Gregorian).
std::int32_t days_from_civil(int year, unsigned month, unsigned day);

}  // namespace faregate::fares
