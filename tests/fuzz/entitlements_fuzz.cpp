// Fuzz target: the fare run's entitlements file (fares::load_entitlements_csv), a CSV the
// operator's concession system exports: any byte sequence can arrive. Checks that a file either
// loads whole or registers nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "backoffice/fares/entitlement_registry.h"
#include "backoffice/fares/gtfs_fares_loader.h"

namespace {

const faregate::fares::FarePolicy& policy() {
  static const auto* p = [] {
    std::map<std::string, std::string> f;
    f["agency.txt"] = "agency_id,agency_name,agency_url,agency_timezone\nx,X,https://x.example,Europe/Lisbon\n";
    f["stops.txt"] = "stop_id,stop_name\na,A\n";
    f["rider_categories.txt"] =
        "rider_category_id,rider_category_name,is_default_fare_category\nadult,Adult,1\nsenior,Senior,0\n";
    f["fare_products.txt"] = "fare_product_id,rider_category_id,amount,currency\nsingle,,2.00,EUR\n";
    f["fare_leg_rules.txt"] = "leg_group_id,fare_product_id\nall,single\n";
    auto loaded = faregate::fares::load_gtfs_fares(faregate::fares::FeedSource::in_memory(f));
    if (!loaded) std::abort();
    return new faregate::fares::FarePolicy(std::move(*loaded));
  }();
  return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  faregate::fares::EntitlementRegistry registry;
  auto loaded = faregate::fares::load_entitlements_csv(text, "entitlements.csv", policy(), registry);
  if (!loaded && registry.size() != 0) std::abort();  // a rejected file must register nothing
  return 0;
}
