#include "simulator/cards/card_catalog.h"

#include <array>
#include <functional>

#include "common/crypto.h"
#include "simulator/cards/card_personalization.h"
#include "simulator/cards/simulator_pki.h"

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
// A Visa range whose simulated issuer declines every charge online (kDecliningIssuerIin).
const Scheme kVisaDeclining{kDecliningIssuerIin, 16, kVisaAid, "VISA DEBIT"};

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
  const Scheme& scheme;
  OdaKind oda;
  // Changes to the plain card of its scheme.
  std::function<void(EmvCardProfile&, PersonalizationFaults&)> adjust;
};

const std::vector<KindSpec>& specs() {
  using P = EmvCardProfile;
  using F = PersonalizationFaults;
  static const std::vector<KindSpec> all = {
      {{"visa", "accept", "ok", "fdda", "Visa qVSDC debit card: fDDA signature in the GPO answer"},
       kVisa, OdaKind::kFdda, [](P&, F&) {}},
      {{"mastercard", "accept", "ok", "cda",
        "Mastercard credit card, PSN 01: CDA signature in the GENERATE AC answer"},
       kMastercard, OdaKind::kCda, [](P& p, F&) { p.psn = 1; }},
      {{"maestro", "accept", "ok", "cda", "Maestro debit card with a 19-digit PAN, PSN 00, CDA"},
       kMaestro, OdaKind::kCda, [](P& p, F&) { p.psn = 0; }},
      {{"co_badged", "accept", "ok", "cda",
        "debit card listing a domestic scheme the validator does not take (priority 1) and "
        "Maestro (priority 2): Maestro is chosen"},
       kMaestro, OdaKind::kCda,
       [](P& p, F&) {
         p.psn = 0;
         p.applications = {{kInteracAid, "INTERAC", 1}, {kMaestroAid, "MAESTRO", 2}};
       }},
      {{"chained", "accept", "ok", "fdda",
        "Visa card that sends its answers in 64-byte parts (61xx, fetched with GET RESPONSE)"},
       kVisa, OdaKind::kFdda, [](P& p, F&) { p.chunk_bytes = 64; }},
      {{"sda_only", "accept", "ok", "sda",
        "older Visa card offering only static data authentication (SSAD 93)"},
       kVisa, OdaKind::kSda, [](P&, F&) {}},
      {{"insufficient_funds", "accept", "ok", "fdda",
        "Visa debit card valid at the gate (offline), whose issuer declines every charge online "
        "(IIN 476199: the simulated acquirer's decline-iin rule)"},
       kVisaDeclining, OdaKind::kFdda, [](P&, F&) {}},
      {{"expired", "deny", "card_expired", "",
        "Visa card whose expiry date (2024-01-31) has passed"},
       kVisa, OdaKind::kFdda, [](P& p, F&) { p.expiry_yymmdd = kExpiredExpiry; }},
      {{"no_ppse", "deny", "ppse_not_found", "",
        "card without a contactless directory: SELECT PPSE answers 6A82"},
       kVisa, OdaKind::kFdda, [](P& p, F&) { p.fault = CardFault::kNoPpse; }},
      {{"unsupported_aid", "deny", "no_supported_application", "",
        "Discover card: its only application is not supported"},
       kDiscover, OdaKind::kFdda, [](P&, F&) {}},
      {{"truncated_tlv", "deny", "malformed_tlv", "",
        "Mastercard whose record holds tag 57 announcing 48 bytes with fewer behind it"},
       kMastercard, OdaKind::kCda,
       [](P& p, F&) {
         p.psn = 1;
         p.fault = CardFault::kTruncatedTrack2;
       }},
      {{"missing_pan", "deny", "pan_missing", "",
        "Visa card whose records carry no PAN (neither 5A nor 57)"},
       kVisa, OdaKind::kFdda, [](P& p, F&) { p.fault = CardFault::kMissingPan; }},
      {{"missing_record", "deny", "record_missing", "",
        "Visa card whose AFL lists a record it does not have (READ RECORD answers 6A83)"},
       kVisa, OdaKind::kFdda, [](P& p, F&) { p.fault = CardFault::kMissingRecord; }},
      {{"blocked", "deny", "application_blocked", "",
        "Mastercard whose issuer blocked the application (SELECT answers 6283)"},
       kMastercard, OdaKind::kCda, [](P& p, F&) { p.fault = CardFault::kBlocked; }},
      {{"revoked_issuer", "deny", "oda_issuer_cert_revoked", "",
        "Visa card whose issuer certificate the CA revoked"},
       kVisa, OdaKind::kFdda, [](P&, F& f) { f.issuer_serial = kRevokedIssuerSerial; }},
      {{"tampered_sdad", "deny", "oda_sdad_hash_mismatch", "",
        "Visa card whose fDDA signature covers other data than the validator sent (a replayed "
        "or altered signature)"},
       kVisa, OdaKind::kFdda, [](P& p, F&) { p.fault = CardFault::kTamperedSdad; }},
      {{"unknown_ca", "deny", "oda_ca_key_unknown", "",
        "Mastercard certified under a CA key index (EE) the validator does not have"},
       kMastercard, OdaKind::kCda, [](P&, F& f) { f.ca_index = 0xEE; }},
      {{"wrong_pan_cert", "deny", "oda_icc_cert_pan_mismatch", "",
        "Visa card whose ICC certificate was issued for another PAN"},
       kVisa, OdaKind::kFdda, [](P&, F& f) { f.certified_pan = "4761739001010010"; }},
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
    if (s.kind.name != kind) continue;
    EmvCardProfile profile = base(s.scheme, kind, seed);
    profile.oda = s.oda;
    PersonalizationFaults faults;
    s.adjust(profile, faults);
    if (auto done = personalize(profile, seed ^ kind_hash(kind), faults); !done) {
      return std::unexpected(done.error());
    }
    return profile;
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
