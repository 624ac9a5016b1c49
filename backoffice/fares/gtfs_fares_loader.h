#pragma once
// Loads a GTFS-Fares v2 feed into a FarePolicy.
//
// Files read (all optional unless said): agency.txt (required unless LoadOptions::time_zone),
// stops.txt (required), routes.txt, networks.txt, route_networks.txt, calendar.txt,
// calendar_dates.txt, areas.txt, stop_areas.txt, timeframes.txt, rider_categories.txt,
// fare_media.txt, fare_products.txt, fare_leg_rules.txt, fare_leg_join_rules.txt,
// fare_transfer_rules.txt, faregate_fare_caps.txt (Faregate's capping extension,
// docs/fare_capping.md), and trips.txt + stop_times.txt to learn which networks serve a
// station (so that a gate tap without a route still has a network).
//
// Columns not named by the specification are ignored. A reference to an id that is not
// defined, a malformed value, a duplicate primary key or a combination the specification
// forbids is refused with an Error whose message reads "file:line: reason".

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "backoffice/fares/fare_policy.h"
#include "common/error.h"

namespace faregate::fares {

// Where the feed's files come from.
class FeedSource {
 public:
  static FeedSource directory(std::filesystem::path dir);
  // name -> contents; for tests and fuzzing.
  static FeedSource in_memory(std::map<std::string, std::string> files);

  // Returns nullopt when the file does not exist, an error when it exists but cannot be read.
  Result<std::optional<std::string>> read(std::string_view name) const;

 private:
  std::filesystem::path dir_;
  std::map<std::string, std::string, std::less<>> files_;
  bool in_memory_ = false;
};

struct LoadOptions {
  // IANA time zone that overrides agency.txt's agency_timezone when not empty.
  std::string time_zone;
  // Read trips.txt and stop_times.txt (when present) to learn the networks serving each stop.
  bool stop_networks_from_trips = true;
};

Result<FarePolicy> load_gtfs_fares(const FeedSource& source, const LoadOptions& options = {});

// The name of the capping extension file.
inline constexpr std::string_view kFareCapsFile = "faregate_fare_caps.txt";

}  // namespace faregate::fares
