// Fuzz target: the GTFS-Fares v2 loader (CSV reader, every fares file, the capping extension)
// and, when a fuzzed feed loads, the fare engine pricing taps at each of its stops.
//
// Input: chunks separated by NUL bytes; the first byte of a chunk picks the file name (modulo
// the table below), the rest is that file's contents. Feeds in the field come from agencies'
// published zips: any byte sequence can arrive.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "backoffice/fares/fare_engine.h"
#include "backoffice/fares/gtfs_fares_loader.h"

namespace {
constexpr std::string_view kFiles[] = {
    "agency.txt",         "stops.txt",          "routes.txt",           "networks.txt",
    "route_networks.txt", "calendar.txt",       "calendar_dates.txt",   "areas.txt",
    "stop_areas.txt",     "timeframes.txt",     "rider_categories.txt", "fare_media.txt",
    "fare_products.txt",  "fare_leg_rules.txt", "fare_leg_join_rules.txt", "fare_transfer_rules.txt",
    "faregate_fare_caps.txt", "trips.txt",      "stop_times.txt",
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace faregate::fares;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> files;
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t end = input.find('\0', pos);
    if (end == std::string_view::npos) end = input.size();
    if (end > pos) {
      const auto name = kFiles[static_cast<std::uint8_t>(input[pos]) % std::size(kFiles)];
      files[std::string(name)] = std::string(input.substr(pos + 1, end - pos - 1));
    }
    pos = end + 1;
  }
  LoadOptions options;
  if (!files.contains("agency.txt")) options.time_zone = "Europe/Paris";
  auto policy = load_gtfs_fares(FeedSource::in_memory(std::move(files)), options);
  if (!policy) return 0;
  // Two cards tap in, out and on board at up to 20 stops, on every route in turn.
  std::vector<Tap> taps;
  const std::size_t stops = std::min<std::size_t>(policy->stops.size(), 20);
  std::int64_t t = 1'772'435'000'000;  // 2026-03-02
  for (std::size_t i = 0; i < stops; ++i) {
    for (int role = 0; role < 3; ++role) {
      Tap tap;
      tap.card = *CardToken::from_hex(i % 2 ? "01" : "02");
      tap.utc_ms = t += 7 * 60 * 1000;
      tap.stop = static_cast<Index>(i);
      tap.role = static_cast<TapRole>(role);
      tap.route = policy->routes.empty() ? kNone : static_cast<Index>(i % policy->routes.size());
      tap.seq = taps.size() + 1;
      taps.push_back(tap);
    }
  }
  FareEngine engine(*policy);
  const auto result = engine.price(taps, EntitlementRegistry{});
  // The books must balance whatever the policy says.
  for (const auto& d : result.days) {
    if (d.total != d.fare_total - d.transfer_discount - d.cap_discount) __builtin_trap();
  }
  return 0;
}
