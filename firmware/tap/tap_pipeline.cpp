#include "firmware/tap/tap_pipeline.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/sealed_card_data.h"
#include "firmware/tap/card_token.h"

namespace faregate::tap {

namespace v1 = faregate::v1;

namespace {

constexpr std::string_view kTapAgain = "Please tap again";

// The card is valid through its expiry day (EMV Book 3: "expiration date ... last date"), so
// it is expired from the next UTC day on.
bool expired(const std::chrono::year_month_day& expiry, std::int64_t utc_ms) {
  using namespace std::chrono;
  const year_month_day today{floor<days>(sys_time<milliseconds>(milliseconds(utc_ms)))};
  return today > expiry;
}

std::chrono::year_month_day utc_date(std::int64_t utc_ms) {
  using namespace std::chrono;
  return year_month_day{floor<days>(sys_time<milliseconds>(milliseconds(utc_ms)))};
}

v1::OdaResult oda_result(const emv::CardData& card) {
  if (card.oda_failure) return v1::ODA_RESULT_FAILED;
  switch (card.oda) {
    case emv::OdaMethod::kSda: return v1::ODA_RESULT_SDA;
    case emv::OdaMethod::kFdda: return v1::ODA_RESULT_FDDA;
    case emv::OdaMethod::kCda: return v1::ODA_RESULT_CDA;
    case emv::OdaMethod::kNone: break;
  }
  return v1::ODA_RESULT_NOT_PERFORMED;
}

std::string yymmdd(const std::chrono::year_month_day& d) {
  return fmt::format("{:02}{:02}{:02}", static_cast<int>(d.year()) % 100,
                     static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
}

std::string token_prefix(const std::string& token) {
  if (token.empty()) return "-";
  return to_hex(as_bytes(token)).substr(0, 8);
}

}  // namespace

std::string_view rider_message(std::string_view reason) {
  if (reason == "ok") return "Welcome";
  if (reason == "card_expired") return "Card expired";
  if (reason == "deny_listed") return "Card refused - see staff";
  if (reason == "anti_passback") return "Card already used here";
  if (reason.starts_with("oda_")) return "Card not accepted - use another card";
  // The card may be fine and the tap bad: the rider should simply try again.
  if (reason == "card_timeout" || reason == "card_protocol_error" || reason == "card_removed") {
    return kTapAgain;
  }
  // Everything else is a property of the card itself: another tap will not help.
  return "Card not accepted";
}

TapPipeline::TapPipeline(hal::NfcReader& reader, hal::Gate& gate, const hal::Clock& clock,
                         const hal::KeyStore& keys, journal::Journal& journal,
                         const emv::oda::CaKeyTable& ca_keys, crypto::Drbg& drbg,
                         TapPipelineConfig config)
    : reader_(reader),
      gate_(gate),
      clock_(clock),
      keys_(keys),
      journal_(journal),
      drbg_(drbg),
      config_(std::move(config)),
      kernel_(config_.terminal, ca_keys) {}

Result<std::optional<TapOutcome>> TapPipeline::poll(std::chrono::milliseconds wait) {
  auto card = reader_.wait_for_card(wait);
  if (!card) return std::unexpected(card.error());
  if (!card->has_value()) {
    prepare_next_seal();  // idle: get the next tap's key agreement done now
    return std::optional<TapOutcome>{};
  }
  auto outcome = process(**card);
  // Deselect whatever happened; a failed release matters less than the tap's outcome, and the
  // next wait_for_card releases again.
  if (auto released = reader_.release(); !released) {
    spdlog::warn("releasing the card after a tap: {}", released.error().describe());
  }
  // The gate has acted; the rider is walking through while the next box is prepared.
  prepare_next_seal();
  if (!outcome) return std::unexpected(outcome.error());
  return std::optional<TapOutcome>{std::move(*outcome)};
}

std::chrono::milliseconds TapPipeline::anti_passback_window() {
  if (auto config = journal_.config(); config && config->anti_passback_seconds() != 0) {
    return std::chrono::seconds(config->anti_passback_seconds());
  }
  return config_.anti_passback;
}

std::string TapPipeline::decide(const v1::TapRecord& record, const emv::CardData& card) {
  // An expired card's certificates have expired with it; "card expired" tells the rider what
  // to do. Every other ODA failure comes next: such a card may be a counterfeit, so the deny
  // list and anti-passback (which trust its identity) come after.
  if (expired(card.expiry, record.tap_time_utc_ms())) return "card_expired";
  if (card.oda_failure) return "oda_" + std::string(emv::oda::to_string(*card.oda_failure));
  auto denied = journal_.is_denied(as_bytes(record.card_token()));
  if (!denied) {
    // The deny list cannot be read. Refusing would strand every rider on a storage hiccup;
    // accepting risks one ride per card, the same first-ride risk transit takes offline. The
    // append that follows uses the same file and fails the tap if storage is really gone.
    spdlog::error("deny list unreadable, deciding without it: {}", denied.error().describe());
  } else if (*denied) {
    return "deny_listed";
  }
  const auto window = anti_passback_window();
  if (window.count() > 0) {
    const auto it = recent_accepts_.find(record.card_token());
    if (it != recent_accepts_.end() && record.monotonic_ms() >= it->second &&
        record.monotonic_ms() - it->second < static_cast<std::uint64_t>(window.count())) {
      return "anti_passback";
    }
  }
  return "ok";
}

void TapPipeline::remember_accept(const std::string& token, std::uint64_t monotonic_ms) {
  if (config_.anti_passback_capacity == 0) return;
  if (!recent_accepts_.contains(token) &&
      recent_accepts_.size() >= config_.anti_passback_capacity) {
    // Full: entries past the window can no longer refuse anything; if none is, the oldest
    // goes (a bounded map must not grow with a busy station's riders).
    const auto window = static_cast<std::uint64_t>(anti_passback_window().count());
    std::erase_if(recent_accepts_,
                  [&](const auto& e) { return monotonic_ms - e.second >= window; });
    if (recent_accepts_.size() >= config_.anti_passback_capacity) {
      recent_accepts_.erase(std::ranges::min_element(
          recent_accepts_, {}, [](const auto& e) { return e.second; }));
    }
  }
  recent_accepts_[token] = monotonic_ms;
}

bool TapPipeline::gate_accept_or_deny(const v1::TapRecord& record) {
  const bool accept = record.decision() == v1::DECISION_ACCEPT;
  // Each action is tried even if an earlier one failed: a broken display must not keep the
  // barrier shut for a rider who paid.
  auto report = [](const Status& s, std::string_view what) {
    if (!s) spdlog::error("gate {}: {}", what, s.error().describe());
    return s.has_value();
  };
  report(gate_.show(rider_message(record.reason())), "display");
  report(gate_.set_light(accept ? hal::Light::kGreen : hal::Light::kRed), "light");
  report(gate_.play(accept ? hal::Tone::kAccept : hal::Tone::kDeny), "tone");
  return accept && report(gate_.open(), "open");
}

void TapPipeline::gate_tap_again(bool fault) {
  // Best effort: the tap already failed, and a gate error would only hide why.
  (void)gate_.show(kTapAgain);
  if (fault) {
    (void)gate_.set_light(hal::Light::kAmber);
    (void)gate_.play(hal::Tone::kError);
  }
}

Result<TapOutcome> TapPipeline::fail(const Error& error, bool fault) {
  gate_tap_again(fault);
  spdlog::warn("tap on {} not completed: {}", config_.device_id, error.describe());
  return std::unexpected(error);
}

Status TapPipeline::seal_card_data(const emv::CardData& card, v1::TapRecord& record) {
  auto key = keys_.sealing_public_key();
  if (!key) return std::unexpected(key.error());
  v1::CardAuthorizationData data;
  data.set_pan(card.pan.digits().data(), card.pan.digits().size());
  data.set_psn(card.psn);
  data.set_expiry_yymmdd(yymmdd(card.expiry));
  data.set_aid(card.aid.data(), card.aid.size());
  if (card.atc) data.set_atc(*card.atc);
  data.set_application_cryptogram(card.application_cryptogram.data(),
                                  card.application_cryptogram.size());
  if (card.cryptogram_information) data.set_cryptogram_information(*card.cryptogram_information);
  data.set_issuer_application_data(card.issuer_application_data.data(),
                                   card.issuer_application_data.size());
  data.set_payment_account_reference(card.payment_account_reference.data(),
                                     card.payment_account_reference.size());
  data.set_unpredictable_number(card.unpredictable_number.data(),
                                card.unpredictable_number.size());
  data.set_amount_minor(static_cast<std::int64_t>(config_.terminal.amount_minor));
  data.set_currency_code(config_.terminal.currency_code);
  Result<Bytes> box = std::unexpected(Error{ErrorCode::kInternal, "not sealed"});
  if (prepared_seal_ && prepared_for_ == *key) {
    box = sealed_card_data::seal(data, record.device_id(), record.card_token(),
                                 std::move(*prepared_seal_));
  } else {
    box = sealed_card_data::seal(data, record.device_id(), record.card_token(), *key, drbg_);
  }
  prepared_seal_.reset();
  sealed_card_data::wipe(data);
  if (!box) return std::unexpected(box.error());
  record.set_sealed_card_data(box->data(), box->size());
  return {};
}

void TapPipeline::prepare_next_seal() {
  if (prepared_seal_) return;
  auto key = keys_.sealing_public_key();
  if (!key) return;  // the next tap reports it
  auto prepared = sealed_box::prepare_seal(*key, drbg_);
  if (!prepared) {
    spdlog::warn("preparing the next sealed box: {}", prepared.error().describe());
    return;
  }
  prepared_seal_ = std::move(*prepared);
  prepared_for_ = *key;
}

Result<TapOutcome> TapPipeline::process(const hal::CardInfo& card_info) {
  // Real elapsed time for the outcome's processing figure only; no decision depends on it, so
  // it does not come from hal::Clock (a ManualClock would always report 0).
  const auto started = std::chrono::steady_clock::now();
  TapOutcome outcome;
  v1::TapRecord& record = outcome.record;
  // The journal stamps its own device id; the sealed box is bound to that one.
  record.set_device_id(journal_.device_id());
  record.set_tap_time_utc_ms(clock_.utc_ms());
  record.set_monotonic_ms(clock_.monotonic_ms());
  record.set_stop_id(config_.stop_id);
  record.set_role(config_.role);
  record.set_route_id(config_.route_id);
  record.set_firmware_version(config_.firmware_version);
  record.set_oda(v1::ODA_RESULT_NOT_PERFORMED);
  record.set_decision(v1::DECISION_DENY);

  if (!card_info.supports_iso_dep()) {
    // No ISO 14443-4: not a bank card (a MIFARE Classic ticket, a key fob). No APDU is sent.
    record.set_reason("unsupported_card");
  } else {
    emv::TransactionInput input;
    input.date = utc_date(record.tap_time_utc_ms());
    if (auto un = drbg_.fill(input.unpredictable_number); !un) return fail(un.error(), true);
    auto card = kernel_.read(reader_, input);
    if (!card) {
      const emv::CardReadError& e = card.error();
      outcome.apdu_count = e.apdu_count;
      switch (e.kind) {
        case emv::ReadFailure::kCardLeft:
          spdlog::info("card left {} before it was read, nothing journaled: {}",
                       config_.device_id, e.detail);
          gate_tap_again(false);
          return make_error(e.cause.value_or(ErrorCode::kCardRemoved),
                            "card left before it was read: " + e.detail);
        case emv::ReadFailure::kReader:
          return make_error(e.cause.value_or(ErrorCode::kInternal), "reader: " + e.detail);
        case emv::ReadFailure::kCard:
          spdlog::info("card on {} not read ({}): {}", config_.device_id, e.reason, e.detail);
          record.set_reason(e.reason);
          break;
      }
    } else {
      outcome.apdu_count = card->apdu_count;
      auto key = keys_.card_token_key();
      if (!key) return fail(key.error(), true);
      auto token = card_token(*key, card->pan, card->psn);
      if (!token) return fail(token.error(), true);
      record.set_card_token(token->data(), token->size());
      record.set_scheme(card->scheme);
      record.set_pan_last4(card->pan.last4());
      if (card->atc) record.set_atc(*card->atc);
      record.set_oda(oda_result(*card));
      if (auto sealed = seal_card_data(*card, record); !sealed) return fail(sealed.error(), true);
      const std::string reason = decide(record, *card);
      record.set_decision(reason == "ok" ? v1::DECISION_ACCEPT : v1::DECISION_DENY);
      record.set_reason(reason);
    }
  }

  // Durable first: a gate that opens for a tap the journal does not hold is a ride nobody can
  // charge or audit.
  auto seq = journal_.append(record);
  if (!seq) return fail(seq.error(), true);
  record.set_device_id(journal_.device_id());
  record.set_seq(*seq);
  if (record.decision() == v1::DECISION_ACCEPT) {
    remember_accept(record.card_token(), record.monotonic_ms());
  }
  outcome.gate_opened = gate_accept_or_deny(record);
  outcome.processing = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  spdlog::info("tap device={} seq={} decision={} reason={} oda={} token={} apdus={} us={}",
               record.device_id(), record.seq(),
               record.decision() == v1::DECISION_ACCEPT ? "accept" : "deny", record.reason(),
               v1::OdaResult_Name(record.oda()), token_prefix(record.card_token()),
               outcome.apdu_count,
               outcome.processing.count());
  return outcome;
}

}  // namespace faregate::tap
