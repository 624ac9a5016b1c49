#include "hal/sim/sim_nfc_reader.h"

namespace faregate::hal::sim {

void SimNfcReader::place(std::shared_ptr<ContactlessCard> card) {
  std::lock_guard lock(mutex_);
  card_ = std::move(card);
}

void SimNfcReader::remove() {
  std::lock_guard lock(mutex_);
  card_.reset();
}

bool SimNfcReader::has_card() const {
  std::lock_guard lock(mutex_);
  return card_ != nullptr;
}

void SimNfcReader::remove_card_after_apdus(std::size_t n) {
  std::lock_guard lock(mutex_);
  remove_after_ = n;
}

void SimNfcReader::disconnect() {
  std::lock_guard lock(mutex_);
  connected_ = false;
}

void SimNfcReader::reconnect() {
  std::lock_guard lock(mutex_);
  connected_ = true;
}

std::size_t SimNfcReader::apdus_this_tap() const {
  std::lock_guard lock(mutex_);
  return apdus_this_tap_;
}

void SimNfcReader::set_bit_rate(BitRate rate) {
  std::lock_guard lock(mutex_);
  bit_rate_ = rate;
}

BitRate SimNfcReader::bit_rate() const {
  std::lock_guard lock(mutex_);
  return bit_rate_;
}

std::chrono::microseconds SimNfcReader::air_time_this_tap() const {
  std::lock_guard lock(mutex_);
  return air_time_this_tap_;
}

std::chrono::microseconds SimNfcReader::card_time_this_tap() const {
  std::lock_guard lock(mutex_);
  return card_time_this_tap_;
}

Result<std::optional<CardInfo>> SimNfcReader::do_wait_for_card(std::chrono::milliseconds) {
  // The simulated field answers at once: a card is either there or not. Callers that want to
  // wait for a rider poll again; nothing here sleeps.
  std::lock_guard lock(mutex_);
  if (!connected_) return make_error(ErrorCode::kUnavailable, "simulated reader disconnected");
  if (!card_) return std::optional<CardInfo>{};
  apdus_this_tap_ = 0;
  air_time_this_tap_ = std::chrono::microseconds(0);
  card_time_this_tap_ = std::chrono::microseconds(0);
  return std::optional<CardInfo>{card_->info()};
}

Result<Bytes> SimNfcReader::do_transceive(ByteView command_apdu, std::chrono::milliseconds) {
  std::shared_ptr<ContactlessCard> card;
  {
    std::lock_guard lock(mutex_);
    if (!connected_) return make_error(ErrorCode::kUnavailable, "simulated reader disconnected");
    if (remove_after_ && apdus_this_tap_ >= *remove_after_) {
      card_.reset();
      remove_after_.reset();
    }
    if (!card_) return make_error(ErrorCode::kCardRemoved, "card left the field");
    ++apdus_this_tap_;
    card = card_;
  }
  const auto started = std::chrono::steady_clock::now();
  auto response = card->respond(command_apdu);
  const auto card_time = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  std::lock_guard lock(mutex_);
  card_time_this_tap_ += card_time;
  if (response) {
    air_time_this_tap_ += exchange_air_time(command_apdu.size(), response->size(), bit_rate_);
  }
  return response;
}

Status SimNfcReader::do_release() {
  std::lock_guard lock(mutex_);
  if (card_) card_->on_deselect();
  return {};
}

Result<bool> SimNfcReader::do_wait_for_removal(std::chrono::milliseconds) {
  std::lock_guard lock(mutex_);
  if (!connected_) return make_error(ErrorCode::kUnavailable, "simulated reader disconnected");
  return card_ == nullptr;
}

}  // namespace faregate::hal::sim
