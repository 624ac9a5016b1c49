// The fare module's small pieces: money, CSV records, times and dates, card tokens.
#include "backoffice/fares/csv_reader.h"
#include "tests/backoffice/fares/fares_test_support.h"

using namespace faregate::fares;
using namespace faregate::fares::testing;

TEST_CASE("amounts parse to minor units with the currency's ISO 4217 decimals", "[fares][money]") {
  const auto eur = *CurrencyCode::parse("eur");
  const auto jpy = *CurrencyCode::parse("JPY");
  const auto kwd = *CurrencyCode::parse("KWD");
  CHECK(eur.str() == "EUR");
  CHECK(*parse_amount("2.50", eur) == 250);
  CHECK(*parse_amount("2.5", eur) == 250);
  CHECK(*parse_amount("2", eur) == 200);
  CHECK(*parse_amount("-0.75", eur) == -75);
  CHECK(*parse_amount("0", eur) == 0);
  CHECK(*parse_amount("210", jpy) == 210);
  CHECK_FALSE(parse_amount("210.5", jpy).has_value());
  CHECK(*parse_amount("1.250", kwd) == 1250);
  for (const char* bad : {"", "-", ".", "1,50", "1.5e2", "+1", "1.2.3", " 1", "abc", "99999999999999999999"}) {
    INFO(bad);
    CHECK_FALSE(parse_amount(bad, eur).has_value());
  }
  CHECK(format_amount(250, eur) == "2.50");
  CHECK(format_amount(-5, eur) == "-0.05");
  CHECK(format_amount(210, jpy) == "210");
  CHECK_FALSE(CurrencyCode::parse("EU").has_value());
  CHECK_FALSE(CurrencyCode::parse("E1R").has_value());
}

TEST_CASE("CSV records keep quoted commas and quotes and count physical lines", "[fares][csv]") {
  const std::string text = "a,b,c\r\n1,\"x, \"\"y\"\"\",3\n\n\"multi\nline\",,\n4,5,6";
  CsvReader reader(text, "t.csv");
  std::vector<std::string_view> fields;
  REQUIRE(*reader.next(fields));
  CHECK(fields == std::vector<std::string_view>{"a", "b", "c"});
  REQUIRE(*reader.next(fields));
  CHECK(reader.line() == 2);
  CHECK(fields == std::vector<std::string_view>{"1", "x, \"y\"", "3"});
  REQUIRE(*reader.next(fields));
  CHECK(reader.line() == 4);
  CHECK(fields == std::vector<std::string_view>{"multi\nline", "", ""});
  REQUIRE(*reader.next(fields));
  CHECK(reader.line() == 6);
  CHECK(fields == std::vector<std::string_view>{"4", "5", "6"});
  CHECK_FALSE(*reader.next(fields));

  CsvReader bad("a\n\"x\"y\n", "bad.csv");
  REQUIRE(*bad.next(fields));
  auto err = bad.next(fields);
  REQUIRE_FALSE(err.has_value());
  CHECK(err.error().message == "bad.csv:2: text after a closing quote");
}

TEST_CASE("ISO 8601 tap times need an offset and convert to UTC milliseconds", "[fares][time]") {
  CHECK(*parse_iso8601_utc_ms("1970-01-01T00:00:00Z") == 0);
  CHECK(*parse_iso8601_utc_ms("1970-01-01T01:00:00+01:00") == 0);
  CHECK(*parse_iso8601_utc_ms("1969-12-31T19:00:00-0500") == 0);
  CHECK(*parse_iso8601_utc_ms("1970-01-01T00:00:01.5Z") == 1500);
  CHECK(*parse_iso8601_utc_ms("2026-03-02T08:15Z") == (days_from_civil(2026, 3, 2) * 86400LL + 8 * 3600 + 15 * 60) * 1000);
  for (const char* bad : {"2026-03-02T08:15:00", "2026-02-30T08:00:00Z", "2026-03-02 25:00:00Z", "yesterday",
                          "2026-03-02T08:15:00+1", "2026-03-02T08:15:00Zjunk"}) {
    INFO(bad);
    CHECK_FALSE(parse_iso8601_utc_ms(bad).has_value());
  }
}

TEST_CASE("local clock gives local dates, wall time and service days across DST", "[fares][time]") {
  const auto paris = *TimeZone::locate("Europe/Paris");
  LocalClock clock(&paris);
  // 29 March 2026 02:00 CET clocks go to 03:00 CEST.
  const auto before = at("2026-03-29T00:30:00Z");
  const auto after = at("2026-03-29T01:30:00Z");
  CHECK(clock.offset_at(before) == 3600);
  CHECK(clock.offset_at(after) == 7200);
  CHECK(clock.to_local(after).second_of_day == 3 * 3600 + 30 * 60);
  CHECK(format_date(clock.to_local(after).day) == "2026-03-29");
  // 03:30 local is before the 04:30 cut: service day 28 March.
  CHECK(format_date(clock.service_day(after, 4 * 3600 + 1800)) == "2026-03-28");
  CHECK(weekday_monday0(days_from_civil(2026, 3, 2)) == 0);
  CHECK(weekday_monday0(days_from_civil(2026, 3, 8)) == 6);
  CHECK(format_iso8601(at("2026-03-02T08:15:00+01:00"), 3600) == "2026-03-02T08:15:00+01:00");
  CHECK(*parse_hh_mm("04:30") == 16200);
  CHECK_FALSE(parse_hh_mm("24:00").has_value());
  CHECK(*parse_gtfs_time("25:35:00") == 25 * 3600 + 35 * 60);
  CHECK(*parse_gtfs_time("7:05:00") == 7 * 3600 + 5 * 60);
  CHECK_FALSE(parse_gtfs_date("20260230").has_value());
  CHECK_FALSE(TimeZone::locate("Nowhere/Land").has_value());
}

TEST_CASE("card tokens hold 1 to 32 bytes and order by their bytes", "[fares][card]") {
  const auto a = *CardToken::from_hex("00ff");
  const auto b = *CardToken::from_hex("0100");
  CHECK(a < b);
  CHECK(a.hex() == "00ff");
  CHECK(a.size() == 2);
  CHECK_FALSE(CardToken::from_hex("").has_value());
  CHECK_FALSE(CardToken::from_bytes(faregate::Bytes(33, 1)).has_value());
  CHECK(CardToken::from_bytes(faregate::Bytes(32, 1)).has_value());
  CHECK(CardTokenHash{}(a) != CardTokenHash{}(b));
}
