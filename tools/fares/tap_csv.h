#pragma once
// The quote CLI's input files (docs/fare_engine.md, "faregate-fares"):
//
// taps: CSV with header card,time,stop_id,role,route_id,rider_category (any column order;
//   optional columns device_id, seq, fare_media_id). time is ISO 8601 with an offset; role is
//   entry, exit or onboard; route_id and rider_category may be empty.
// entitlements: CSV with header card,rider_category and optional valid_from,valid_until
//   (YYYY-MM-DD, inclusive service days).
//
// A card is any string of 1 to 32 bytes (its bytes are the card token).

#include <cstdint>
#include <string>
#include <vector>

#include "backoffice/fares/entitlement_registry.h"
#include "backoffice/fares/fare_policy.h"
#include "backoffice/fares/tap.h"
#include "common/error.h"

namespace faregate::fares::cli {

struct TapFile {
  std::vector<Tap> taps;
  std::vector<std::string> cards;     // card string of each tap (same order)
  std::vector<std::string> stop_ids;  // stop_id as written (unknown stops are priced as orphans)
  std::vector<std::string> route_ids;
  std::vector<std::uint32_t> lines;   // line in the file of each tap
};

// Parses the tap file. Errors name the file and line ("taps.csv:7: role 'in' is not ...").
// A rider_category or fare_media_id that the policy does not define is an error; a stop_id or
// route_id it does not define is not (the tap is reported as an orphan).
Result<TapFile> parse_tap_csv(std::string_view text, const std::string& file_name, const FarePolicy& policy);

Status parse_entitlements_csv(std::string_view text, const std::string& file_name, const FarePolicy& policy,
                              EntitlementRegistry& registry);

// Reads a whole file.
Result<std::string> read_file(const std::string& path);

}  // namespace faregate::fares::cli
