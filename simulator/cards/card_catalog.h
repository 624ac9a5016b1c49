#pragma once
// The simulator's card kinds: the names `faregate-sim cards` lists and scenarios use, the
// outcome each should get at a gate, and a factory that makes a card of a kind. A card's PAN,
// UID and first ATC derive from its kind and seed, so one rider keeps one card (one card token)
// all day, and every run of a scenario sees the same cards.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "hal/sim/contactless_card.h"
#include "simulator/cards/emv_card.h"

namespace faregate::simulator {

// The issuer identification number of the "insufficient_funds" kind: cards a gate accepts
// offline and whose simulated issuer declines online. The back office's simulated acquirer
// declines this range with `--acquirer simulated:decline-iin=476199` (docs/payments.md).
inline constexpr std::string_view kDecliningIssuerIin = "476199";

struct CardKind {
  std::string name;    // "visa", "expired", ...
  std::string expect;  // "accept" or "deny": what a validator should decide on a first tap
  std::string reason;  // the tap record's reason a validator gives: "ok", "card_expired", ...
  std::string oda;     // the ODA an accepted card gets: "fdda", "cda", "sda"; "" when denied
  std::string about;   // one line for humans
};

// Every kind, in a stable order.
std::vector<CardKind> card_kinds();

// The profile of a card of `kind` with `seed`: PAN with the scheme's prefix and a valid Luhn
// check digit, 7-byte UID, ODA data from the simulator's PKI. kInvalidArgument for an unknown
// kind, naming the known ones.
Result<EmvCardProfile> card_profile(std::string_view kind, std::uint64_t seed);

// A new virtual card of `kind` (see card_profile).
Result<std::shared_ptr<hal::sim::ContactlessCard>> make_card(std::string_view kind,
                                                             std::uint64_t seed);

}  // namespace faregate::simulator
