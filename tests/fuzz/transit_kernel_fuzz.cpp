// Fuzz target: the transit kernel (PPSE, GPO, AFL records, GENERATE AC, ODA) fed by a fuzzed
// card. The input is a sequence of answers, each a
// length byte followed by that many bytes (an R-APDU with its status word); the card gives them
// in order, whatever the reader asked, then falls silent.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "firmware/emv/transit_kernel.h"
#include "hal/sim/sim_nfc_reader.h"
#include "simulator/cards/simulator_pki.h"

namespace {

class FuzzedCard final : public faregate::hal::sim::ContactlessCard {
 public:
  FuzzedCard(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  faregate::hal::CardInfo info() const override {
    return {faregate::Bytes{4, 1, 2, 3, 4, 5, 6}, 0x0044, 0x20, faregate::Bytes{0x01}};
  }
  faregate::Result<faregate::Bytes> respond(faregate::ByteView) override {
    if (pos_ >= size_) return faregate::make_error(faregate::ErrorCode::kTimeout, "card silent");
    const std::size_t announced = data_[pos_];
    ++pos_;
    const std::size_t n = std::min(announced, size_ - pos_);
    faregate::Bytes answer(data_ + pos_, data_ + pos_ + n);
    pos_ += n;
    return answer;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  faregate::hal::sim::SimNfcReader reader;
  reader.place(std::make_shared<FuzzedCard>(data, size));
  auto card = reader.wait_for_card(std::chrono::milliseconds(0));
  if (!card || !card->has_value()) return 0;
  // The simulator's test CA: the seeds recorded from virtual cards carry certificates it
  // signed, so mutations reach certificate recovery and signature checks.
  static const auto ca_keys = faregate::simulator::simulator_ca_keys().value();
  static const faregate::emv::TransitKernel kernel(faregate::emv::TerminalConfig{}, ca_keys);
  faregate::emv::TransactionInput input;
  input.date = std::chrono::year_month_day{std::chrono::year(2026), std::chrono::November,
                                           std::chrono::day(29)};
  input.unpredictable_number = {0x12, 0x34, 0x56, 0x78};
  auto result = kernel.read(reader, input);
  if (result) {
    volatile std::size_t sink = result->pan.last4().size();
    (void)sink;
  }
  return 0;
}
