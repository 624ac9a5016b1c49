#include "hal/nfc_reader.h"

#include <string>

namespace faregate::hal {

Result<std::optional<CardInfo>> NfcReader::wait_for_card(std::chrono::milliseconds timeout) {
  if (timeout.count() < 0) return make_error(ErrorCode::kInvalidArgument, "negative timeout");
  if (card_active_) {
    if (auto s = release(); !s) return std::unexpected(s.error());
  }
  auto card = do_wait_for_card(timeout);
  if (card && card->has_value()) card_active_ = true;
  return card;
}

Result<Bytes> NfcReader::transceive(ByteView command_apdu, std::chrono::milliseconds timeout) {
  if (!card_active_) return make_error(ErrorCode::kInvalidArgument, "no card is active");
  if (command_apdu.size() < kMinCommandApduBytes || command_apdu.size() > kMaxCommandApduBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "command APDU of " + std::to_string(command_apdu.size()) + " bytes");
  }
  auto response = do_transceive(command_apdu, timeout);
  if (!response) {
    if (response.error().code == ErrorCode::kCardRemoved) card_active_ = false;
    return response;
  }
  // Every R-APDU ends with SW1 SW2; anything shorter or longer than ISO 7816-4 allows is a
  // reader or card fault, never something to pass on to the TLV parser.
  if (response->size() < 2 || response->size() > kMaxResponseApduBytes) {
    return make_error(ErrorCode::kProtocol,
                      "response APDU of " + std::to_string(response->size()) + " bytes");
  }
  return response;
}

Status NfcReader::release() {
  if (!card_active_) return {};
  card_active_ = false;
  return do_release();
}

Status NfcReader::reopen() {
  card_active_ = false;
  return do_reopen();
}

Result<bool> NfcReader::wait_for_removal(std::chrono::milliseconds timeout) {
  if (timeout.count() < 0) return make_error(ErrorCode::kInvalidArgument, "negative timeout");
  if (card_active_) {
    if (auto s = release(); !s) return std::unexpected(s.error());
  }
  return do_wait_for_removal(timeout);
}

}  // namespace faregate::hal
