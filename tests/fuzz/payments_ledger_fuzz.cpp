// Fuzz target: a payments ledger restored from stored rows (DATA_DIR/payments.db holds them;
// a damaged or hand-edited file can hold anything the column types allow), then used as a
// fare run uses it: pricing recorded, charges submitted, debt paid, settlement matched, saved.
// restore() must refuse what is inconsistent with kCorrupt and never crash; a ledger it accepts
// must survive every operation.
//
// Input: a byte stream read field by field (missing bytes read as zero): the reference
// counter, then records, each introduced by one byte: 0 a charge, 1 a card-day, 2 a verified
// token, 3 a priced card-day for record(); anything else ends the input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "backoffice/payments/payments_ledger.h"

namespace {

class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::int64_t int64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
    return static_cast<std::int64_t>(v);
  }
  // byte * scale - offset: small values of either sign.
  std::int32_t small(std::int32_t scale, std::int32_t offset) { return static_cast<std::int32_t>(byte()) * scale - offset; }
  faregate::fares::CardToken token() {
    // Few distinct tokens, so that records meet each other; size 0..32 (0 is invalid).
    const std::uint8_t size = byte() % 34;
    const std::uint8_t fill = byte() % 4;
    faregate::Bytes bytes(size > 32 ? 32 : size, fill);
    auto t = faregate::fares::CardToken::from_bytes(bytes);
    return t ? *t : faregate::fares::CardToken();
  }
  std::string text() {
    std::string s;
    const std::uint8_t n = byte() % 12;
    for (std::uint8_t i = 0; i < n; ++i) s.push_back(static_cast<char>(byte()));
    return s;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace faregate::payments;
  const auto eur = *faregate::fares::CurrencyCode::parse("EUR");
  Reader in(data, size);
  LedgerSnapshot s;
  s.currency = eur;
  s.next_reference = static_cast<std::uint64_t>(in.byte());
  faregate::fares::PricingResult pricing;
  pricing.currency = eur;
  while (!in.done()) {
    const std::uint8_t kind = in.byte();
    if (kind == 0) {
      Charge c;
      const char* prefixes[] = {"CHG-", "ADJ-", "REF-", "X"};
      c.reference = std::string(prefixes[in.byte() % 4]) + (in.byte() % 8 == 0 ? in.text() : std::to_string(in.byte()));
      c.kind = static_cast<ChargeKind>(in.byte() % 3);
      c.state = static_cast<ChargeState>(in.byte() % 6);
      c.token = in.token();
      c.first_day = in.small(1, 5);
      c.last_day = in.small(1, 5);
      c.amount = in.byte() % 5 == 0 ? in.int64() : in.small(10, 20);
      c.attempts = in.small(1, 1);
      c.first_decline_ms = in.int64();
      c.next_attempt_ms = in.int64();
      c.settled = in.byte() % 2 == 1;
      s.charges.push_back(std::move(c));
    } else if (kind == 1) {
      LedgerDay d;
      d.token = in.token();
      d.service_day = in.small(1, 5);
      d.total = in.small(10, 20);
      d.charge = in.small(1, 1);
      s.days.push_back(d);
    } else if (kind == 2) {
      s.verified.push_back(in.token());
    } else if (kind == 3) {
      faregate::fares::CardDayResult d;
      d.card = in.token();
      d.service_day = in.small(1, 5);
      d.total = in.small(10, 20);
      if (d.card.size() != 0) pricing.days.push_back(d);
    } else {
      break;
    }
  }
  PaymentsOptions options;
  options.travel_period_days = 1 + in.byte() % 14;
  auto ledger = PaymentsLedger::restore(s, options);
  if (!ledger) return 0;
  SimulatedAcquirer acquirer;
  MemoryDenyList deny;
  (void)ledger->record(pricing);
  (void)ledger->submit_due(acquirer, deny, 30, 1'000'000);
  for (const auto& d : pricing.days) {
    ledger->rider_paid(d.card, deny);
    (void)ledger->outstanding_debt(d.card);
  }
  const auto records = acquirer.settle();
  (void)ledger->match_settlement(records);
  // What it saves restores again.
  auto again = PaymentsLedger::restore(ledger->snapshot(), options);
  if (!again) __builtin_trap();
  return 0;
}
