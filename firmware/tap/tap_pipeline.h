#pragma once
// tap::TapPipeline: one card presentation, from the card in the field to a durable decision and
// a gate action.
//
//   1. read and authenticate the card offline (emv::TransitKernel: GPO, records, CDA/fDDA/SDA)
//   2. card token = HMAC(key, PAN || PSN); the PAN and the data the back office needs for the
//      later authorization are sealed for the back office (common/sealed_box.h)
//   3. decide: ODA result, expiry, deny list, anti-passback
//   4. journal.append: durable (fsync) ...
//   5. ... and only then the gate: open on accept
//
// What gets journaled:
//  - every card that was read, accepted or denied ("ok", "card_expired", "deny_listed",
//    "anti_passback", and "oda_<failure>" for a card that failed offline data authentication,
//    e.g. "oda_sdad_hash_mismatch": see emv::oda::OdaFailure);
//  - every card that answered but could not be read: a deny with the read failure's reason
//    (emv::CardReadError lists the codes: "ppse_not_found", "malformed_tlv", "card_timeout",
//    ...) and "unsupported_card" for a card that does not speak ISO 14443-4. Such records have
//    no card token, scheme or last four digits;
//  - NOT a card that left the field before it was read (ReadFailure::kCardLeft). There is no
//    card identity to journal, nothing to charge and nothing to deny: the rider simply taps
//    again, and a deny record would only add noise to the audit trail and to reconciliation.
//    process() returns kCardRemoved and the display asks to tap again;
//  - NOT a reader failure (unplugged reader, internal error): that is the device's fault, not a
//    tap; process() returns the error and leaves the gate alone.
//
// The PAN never leaves this class's stack frame in clear: the record carries the token, the
// scheme, the last four digits and the sealed box only, and the log line only the first 8 hex
// digits of the token.
//
// Runs on the card thread; not thread-safe. The references given to the constructor must
// outlive the pipeline.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "faregate/v1/tap.pb.h"
#include "common/crypto.h"
#include "common/sealed_box.h"
#include "firmware/emv/oda/ca_key_table.h"
#include "firmware/emv/transit_kernel.h"
#include "firmware/journal/journal.h"
#include "hal/clock.h"
#include "hal/gate.h"
#include "hal/key_store.h"
#include "hal/nfc_reader.h"

namespace faregate::tap {

struct TapPipelineConfig {
  std::string device_id;
  std::string stop_id;
  faregate::v1::ValidatorRole role = faregate::v1::VALIDATOR_ROLE_ENTRY;
  std::string route_id;  // onboard validators only
  std::string firmware_version;
  // What the validator tells cards (TTQ, amount, currency, country), the applications it
  // accepts and the time a card has to answer each APDU.
  emv::TerminalConfig terminal;
  // The same card accepted at this validator within this window is refused ("anti_passback").
  // A ConfigBundle's anti_passback_seconds, when non-zero, takes precedence. Zero disables it.
  std::chrono::seconds anti_passback{60};
  // How many recently accepted cards are remembered for anti-passback. When full, entries past
  // the window go first, then the oldest.
  std::size_t anti_passback_capacity = 4096;
};

struct TapOutcome {
  faregate::v1::TapRecord record;  // as journaled, with device_id and seq
  std::uint32_t apdu_count = 0;
  std::chrono::microseconds processing{0};  // from process() entry to the gate action
  bool gate_opened = false;
};

class TapPipeline {
 public:
  // `ca_keys`: the CA public keys for ODA. `drbg`: the unpredictable number of every tap and
  // the ephemeral keys of the sealed boxes (CTR_DRBG from system entropy in production).
  TapPipeline(hal::NfcReader& reader, hal::Gate& gate, const hal::Clock& clock,
              const hal::KeyStore& keys, journal::Journal& journal,
              const emv::oda::CaKeyTable& ca_keys, crypto::Drbg& drbg, TapPipelineConfig config);

  // Waits up to `wait` for a card; if one came, processes it, then releases it whatever the
  // outcome. Returns nullopt when no card came.
  // Errors: those of process(), and of hal::NfcReader::wait_for_card (kUnavailable, ...).
  Result<std::optional<TapOutcome>> poll(std::chrono::milliseconds wait);

  // Processes the card the reader has just activated (`card` is what activation reported).
  // Returns the journaled outcome; a denied tap is an outcome, not an error.
  // Errors (nothing journaled, the gate stays closed):
  //  - kCardRemoved: the card left before it was read (display: "Please tap again");
  //  - the reader's error (kUnavailable, ...) when the reader itself failed;
  //  - the key store's or the HMAC's error (amber light, error tone, "Please tap again");
  //  - the journal's error when the tap could not be stored (amber, error tone, "Please tap
  //    again").
  Result<TapOutcome> process(const hal::CardInfo& card);

 private:
  std::string decide(const faregate::v1::TapRecord& record, const emv::CardData& card);
  Status seal_card_data(const emv::CardData& card, faregate::v1::TapRecord& record);
  void prepare_next_seal();
  std::chrono::milliseconds anti_passback_window();
  void remember_accept(const std::string& token, std::uint64_t monotonic_ms);
  bool gate_accept_or_deny(const faregate::v1::TapRecord& record);
  void gate_tap_again(bool fault);
  Result<TapOutcome> fail(const Error& error, bool fault);

  hal::NfcReader& reader_;
  hal::Gate& gate_;
  const hal::Clock& clock_;
  const hal::KeyStore& keys_;
  journal::Journal& journal_;
  crypto::Drbg& drbg_;
  TapPipelineConfig config_;
  emv::TransitKernel kernel_;
  // The next sealed box's key agreement, prepared after each tap so that the next tap only
  // encrypts (see sealed_box::PreparedSeal), with the key it was prepared for.
  std::optional<sealed_box::PreparedSeal> prepared_seal_;
  std::optional<sealed_box::PublicKey> prepared_for_;
  // Card token (32 raw bytes) -> monotonic ms of its last accepted tap at this validator.
  std::unordered_map<std::string, std::uint64_t> recent_accepts_;
};

// The text the rider's display shows for a tap record's reason ("ok" -> "Welcome").
std::string_view rider_message(std::string_view reason);

}  // namespace faregate::tap
