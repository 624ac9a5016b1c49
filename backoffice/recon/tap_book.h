#pragma once
// TapBook: stored tap records (faregate.v1.TapRecord) turned into the fare engine's taps. Only
// accepted taps are priced; denied taps are counted per device and service day for
// reconciliation. Device ids are interned: Tap::device indexes device_ids.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "backoffice/fares/fare_policy.h"
#include "backoffice/fares/tap.h"
#include "faregate/v1/tap.pb.h"

namespace faregate::recon {

struct DeviceDayCount {
  std::uint64_t received = 0;  // records of that device whose tap time falls on that day
  std::uint64_t denied = 0;    // of which the validator denied (not priced)
  std::uint64_t bad_card = 0;  // of which carry no usable card token (not priced)
};

class TapBook {
 public:
  TapBook(const fares::FarePolicy& policy, std::int32_t service_day_start_s);

  // Adds records of one device (any order). Records without a usable card token are counted,
  // never priced.
  void add(std::span<const faregate::v1::TapRecord> records);
  // Room for `taps` priced taps, when the caller knows how many are coming.
  void reserve(std::size_t taps) { taps_.reserve(taps); }

  const std::vector<fares::Tap>& taps() const { return taps_; }
  const std::vector<std::string>& device_ids() const { return device_ids_; }
  // Per (device index, service day).
  const std::map<std::pair<std::uint32_t, std::int32_t>, DeviceDayCount>& counts() const { return counts_; }
  std::uint32_t device_index(const std::string& device_id);

 private:
  const fares::FarePolicy& policy_;
  std::int32_t service_day_start_s_;
  fares::LocalClock clock_;
  std::vector<fares::Tap> taps_;
  std::vector<std::string> device_ids_;
  std::map<std::string, std::uint32_t> device_index_;
  std::map<std::pair<std::uint32_t, std::int32_t>, DeviceDayCount> counts_;
  // The last lookups: consecutive records nearly always share the device, the service day, the
  // stop and the route, so add() does not hash or search for them per record.
  struct Last {
    std::string device_id, stop_id, route_id;
    std::uint32_t device = 0;
    std::int32_t day = 0;
    DeviceDayCount* count = nullptr;  // of (device, day); map nodes never move
    fares::Index stop = fares::kNone, route = fares::kNone;
    bool device_known = false, stop_known = false, route_known = false;
  } last_;
};

}  // namespace faregate::recon
