#include "simulator/cards/card_catalog.h"

#include <functional>

#include "common/crypto.h"

namespace faregate::simulator {

namespace {

const Bytes kVisaAid{0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10};
const Bytes kMastercardAid{0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10};
const Bytes kMaestroAid{0xA0, 0x00, 0x00, 0x00, 0x04, 0x30, 0x60};
// Registered AIDs the validator does not support: Discover, and Interac (a domestic debit
// scheme that co-badges with Maestro).
const Bytes kDiscoverAid{0xA0, 0x00, 0x00, 0x01, 0x52, 0x30, 0x10};
const Bytes kInteracAid{0xA0, 0x00, 0x00, 0x02, 0x77, 0x10, 0x10};

const Bytes kValidExpiry{0x30, 0x12, 0x31};    // 2030-12-31
const Bytes kExpiredExpiry{0x24, 0x01, 0x31};  // 2024-01-31

// Completes `digits` with its ISO/IEC 7812-1 (Luhn) check digit.
std::string with_luhn(std::string digits) {
  int sum = 0;
  bool doubled = true;  // the digit left of the check digit is doubled
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (doubled) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    doubled = !doubled;
  }
  digits.push_back(static_cast<char>('0' + (10 - sum % 10) % 10));
  return digits;
}

// FNV-1a: mixes the kind's name into the seed, so that seed 7 of "visa" and seed 7 of
// "expired" are different cards.
std::uint64_t kind_hash(std::string_view kind) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : kind) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct Scheme {
  std::string_view iin;  // issuer identification number: the scheme-correct prefix
  std::size_t digits;    // PAN length, check digit included
  const Bytes& aid;
  std::string_view label;
};

const Scheme kVisa{"476173", 16, kVisaAid, "VISA DEBIT"};
const Scheme kMastercard{"541333", 16, kMastercardAid, "MASTERCARD"};
const Scheme kMaestro{"675964", 19, kMaestroAid, "MAESTRO"};
const Scheme kDiscover{"601100", 16, kDiscoverAid, "DISCOVER"};

EmvCardProfile base(const Scheme& scheme, std::string_view kind, std::uint64_t seed) {
  auto rng = crypto::Drbg::deterministic(seed ^ kind_hash(kind));
  std::string digits(scheme.iin);
  while (digits.size() + 1 < scheme.digits) {
    digits.push_back(static_cast<char>('0' + rng.uniform(10)));
  }
  EmvCardProfile p;
  p.applications = {{scheme.aid, std::string(scheme.label), 1}};
  p.pan = with_luhn(std::move(digits));
  p.expiry_yymmdd = kValidExpiry;
  // 04: NXP's manufacturer code, as on most contactless bank cards.
  p.uid = {0x04};
  for (int i = 0; i < 6; ++i) p.uid.push_back(static_cast<std::uint8_t>(rng.uniform(256)));
  p.first_atc = static_cast<std::uint16_t>(1 + rng.uniform(500));
  return p;
}

struct KindSpec {
  CardKind kind;
  std::function<EmvCardProfile(std::string_view, std::uint64_t)> make;
};

const std::vector<KindSpec>& specs() {
  static const std::vector<KindSpec> all = {
      {{"visa", "accept", "Visa contactless debit card (no PSN on the card)"},
       [](std::string_view k, std::uint64_t s) { return base(kVisa, k, s); }},
      {{"mastercard", "accept", "Mastercard contactless credit card, PSN 01"},
       [](std::string_view k, std::uint64_t s) {
         auto p = base(kMastercard, k, s);
         p.psn = 1;
         return p;
       }},
      {{"maestro", "accept", "Maestro contactless debit card with a 19-digit PAN, PSN 00"},
       [](std::string_view k, std::uint64_t s) {
         auto p = base(kMaestro, k, s);
         p.psn = 0;
         return p;
       }},
      {{"co_badged", "accept",
        "debit card listing a domestic scheme the validator does not take (priority 1) and "
        "Maestro (priority 2): Maestro is chosen"},
       [](std::string_view k, std::uint64_t s) {
         auto p = base(kMaestro, k, s);
         p.psn = 0;
         p.applications = {{kInteracAid, "INTERAC", 1}, {kMaestroAid, "MAESTRO", 2}};
         return p;
       }},
      {{"chained", "accept",
        "Visa card that sends its answers in 16-byte parts (61xx, fetched with GET RESPONSE)"},
       [](std::string_view k, std::uint64_t s) {
         auto p = base(kVisa, k, s);
         p.chunk_bytes = 16;
         return p;
       }},
      {{"expired", "deny", "Visa card whose expiry date (2024-01-31) has passed"},
       [](std::string_view k, std::uint64_t s) {
         auto p = base(kVisa, k, s);
         p.expiry_yymmdd = kExpiredExpiry;
         return p;
       }},
      {{"no_ppse", "deny", "card without a contactless directory: SELECT PPSE answers 6A82"},
       [](std::string_view k, std::uint64_t s) {
         auto p = base(kVisa, k, s);
         p.fault = CardFault::kNoPpse;
         return p;
       }},
      {{"unsupported_aid", "deny", "Discover card: its only application is not supported"},
       [](std::string_view k, std::uint64_t s) { return base(kDiscover, k, s); }},
      {{"truncated_tlv", "deny",
        "Mastercard whose record holds tag 57 announcing 48 bytes with fewer behind it"},
       [](std::string_view k, std::uint64_t s) {
         auto p = base(kMastercard, k, s);
         p.psn = 1;
         p.fault = CardFault::kTruncatedTrack2;
         return p;
       }},
      {{"missing_pan", "deny", "Visa card whose records carry no PAN (neither 5A nor 57)"},
       [](std::string_view k, std::uint64_t s) {
         auto p = base(kVisa, k, s);
         p.fault = CardFault::kMissingPan;
         return p;
       }},
  };
  return all;
}

}  // namespace

std::vector<CardKind> card_kinds() {
  std::vector<CardKind> out;
  for (const KindSpec& s : specs()) out.push_back(s.kind);
  return out;
}

Result<EmvCardProfile> card_profile(std::string_view kind, std::uint64_t seed) {
  for (const KindSpec& s : specs()) {
    if (s.kind.name == kind) return s.make(kind, seed);
  }
  std::string known;
  for (const KindSpec& s : specs()) known += (known.empty() ? "" : ", ") + s.kind.name;
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown card kind '" + std::string(kind) + "' (known: " + known + ")");
}

Result<std::shared_ptr<hal::sim::ContactlessCard>> make_card(std::string_view kind,
                                                             std::uint64_t seed) {
  auto profile = card_profile(kind, seed);
  if (!profile) return std::unexpected(profile.error());
  return std::make_shared<EmvCard>(std::move(*profile));
}

}  // namespace faregate::simulator
