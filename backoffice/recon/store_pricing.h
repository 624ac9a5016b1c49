#pragma once
// Prices everything a tap store holds: every device's records (gaps included) into a TapBook,
// what the store knows of each device (sequence gaps, conflicts), and the fare engine's result.
// Shared by faregate-report and the back office's fare run, so that both see the same numbers.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "backoffice/fares/entitlement_registry.h"
#include "backoffice/fares/fare_engine.h"
#include "backoffice/recon/reconciliation.h"
#include "backoffice/recon/tap_book.h"
#include "backoffice/store/tap_store.h"

namespace faregate::recon {

struct StorePricing {
  std::unique_ptr<TapBook> book;        // refers to the policy given to price_tap_store
  std::vector<DeviceInput> devices;
  fares::PricingResult pricing;
};

struct StorePricingOptions {
  std::int32_t service_day_start_s = 4 * 3600 + 30 * 60;
  unsigned threads = 1;
  // Called with each page of records as it is read (the fare run looks at card data there).
  std::function<void(std::span<const faregate::v1::TapRecord>)> on_records;
};

// Requires: `policy` outlives the result. Errors: those of the store.
Result<StorePricing> price_tap_store(store::TapStore& store, const fares::FarePolicy& policy,
                                     const fares::EntitlementRegistry& entitlements,
                                     const StorePricingOptions& options);

}  // namespace faregate::recon
