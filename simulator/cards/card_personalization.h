#pragma once
// Card personalization for the simulator: what an issuer's bureau loads into a card for offline
// data authentication, built with the simulator's PKI (simulator_pki.h) and the signing code
// of simulator/cards/issuer. The ICC certificate binds the card's PAN, expiry and static data
// (so it is built after the card's records are known); SDA cards get a signed static
// application data block instead.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "simulator/cards/emv_card.h"

namespace faregate::simulator {

// Deliberate defects in the ODA data, for the faulty card kinds.
struct PersonalizationFaults {
  std::optional<std::uint8_t> ca_index;                      // e.g. an index no CA has
  std::optional<std::array<std::uint8_t, 3>> issuer_serial;  // e.g. a revoked certificate
  std::optional<std::string> certified_pan;                  // a PAN other than the card's
};

// Fills profile.oda_data for profile.oda (fDDA and CDA: issuer and ICC certificates and an ICC
// key from the pool chosen by `key_choice`; SDA: issuer certificate and SSAD).
Status personalize(EmvCardProfile& profile, std::uint64_t key_choice,
                   const PersonalizationFaults& faults = {});

}  // namespace faregate::simulator
