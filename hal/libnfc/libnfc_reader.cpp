#include "hal/libnfc/libnfc_reader.h"

#include <nfc/nfc.h>

#include <algorithm>
#include <array>
#include <climits>
#include <thread>
#include <utility>

namespace faregate::hal::libnfc {

namespace {

using Clock = std::chrono::steady_clock;

constexpr nfc_modulation kTypeA106{NMT_ISO14443A, NBR_106};

std::string_view code_name(int code) {
  switch (code) {
    case NFC_EIO:
      return "NFC_EIO";
    case NFC_EINVARG:
      return "NFC_EINVARG";
    case NFC_EDEVNOTSUPP:
      return "NFC_EDEVNOTSUPP";
    case NFC_ENOTSUCHDEV:
      return "NFC_ENOTSUCHDEV";
    case NFC_EOVFLOW:
      return "NFC_EOVFLOW";
    case NFC_ETIMEOUT:
      return "NFC_ETIMEOUT";
    case NFC_EOPABORTED:
      return "NFC_EOPABORTED";
    case NFC_ENOTIMPL:
      return "NFC_ENOTIMPL";
    case NFC_ETGRELEASED:
      return "NFC_ETGRELEASED";
    case NFC_ERFTRANS:
      return "NFC_ERFTRANS";
    case NFC_EMFCAUTHFAIL:
      return "NFC_EMFCAUTHFAIL";
    case NFC_ESOFT:
      return "NFC_ESOFT";
    case NFC_ECHIP:
      return "NFC_ECHIP";
    default:
      return "unknown libnfc error";
  }
}

ErrorCode map_code(int code) {
  switch (code) {
    case NFC_ETGRELEASED:
      return ErrorCode::kCardRemoved;
    case NFC_ERFTRANS:  // the card did not answer, or garbled its answer
    case NFC_ETIMEOUT:  // the chip did not answer in time
      return ErrorCode::kTimeout;
    case NFC_EIO:  // the serial line or USB transfer failed: the reader is gone
    case NFC_ENOTSUCHDEV:
      return ErrorCode::kUnavailable;
    case NFC_EOVFLOW:  // an answer longer than the buffer we gave
    case NFC_EMFCAUTHFAIL:
      return ErrorCode::kProtocol;
    case NFC_EINVARG:
      return ErrorCode::kInvalidArgument;
    case NFC_ECHIP:
    case NFC_EOPABORTED:
      return ErrorCode::kIo;
    default:  // NFC_EDEVNOTSUPP, NFC_ENOTIMPL, NFC_ESOFT
      return ErrorCode::kInternal;
  }
}

// libnfc reads 0 as "wait forever": never hand it that.
int to_libnfc_timeout(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(timeout.count(), 1, INT_MAX));
}

void pause_until(Clock::time_point deadline, std::chrono::milliseconds interval) {
  const auto now = Clock::now();
  if (now >= deadline) return;
  std::this_thread::sleep_for(std::min<Clock::duration>(interval, deadline - now));
}

}  // namespace

void LibnfcReader::ContextCloser::operator()(nfc_context* context) const { nfc_exit(context); }
void LibnfcReader::DeviceCloser::operator()(nfc_device* device) const { nfc_close(device); }

LibnfcReader::LibnfcReader(std::string connstring, LibnfcReaderOptions options)
    : connstring_(std::move(connstring)), options_(options) {}

LibnfcReader::~LibnfcReader() = default;

Result<std::unique_ptr<LibnfcReader>> LibnfcReader::open(std::string connstring,
                                                         LibnfcReaderOptions options) {
  if (connstring.empty() || connstring.size() >= NFC_BUFSIZE_CONNSTRING) {
    return make_error(ErrorCode::kInvalidArgument,
                      "libnfc connstring of " + std::to_string(connstring.size()) + " characters");
  }
  std::unique_ptr<LibnfcReader> reader(new LibnfcReader(std::move(connstring), options));
  nfc_context* context = nullptr;
  nfc_init(&context);
  if (context == nullptr) return make_error(ErrorCode::kInternal, "nfc_init failed");
  reader->context_.reset(context);
  if (auto s = reader->open_device(); !s) return std::unexpected(s.error());
  return reader;
}

Status LibnfcReader::reconnect() {
  device_.reset();
  return open_device();
}

Status LibnfcReader::open_device() {
  device_lost_ = true;  // until the device is open and configured
  nfc_device* device = nfc_open(context_.get(), connstring_.c_str());
  if (device == nullptr) {
    return make_error(ErrorCode::kUnavailable, connstring_ + ": cannot open the reader");
  }
  device_.reset(device);
  if (int res = nfc_initiator_init(device); res < 0) return fail(res, "entering reader mode");
  // Never let a select wait for a card without end: wait_for_card polls with its own deadline.
  // The chip activates ISO 14443-4 (RATS) itself and wraps APDUs in I-blocks.
  const std::array<std::pair<nfc_property, bool>, 3> properties{{
      {NP_INFINITE_SELECT, false},
      {NP_AUTO_ISO14443_4, true},
      {NP_EASY_FRAMING, true},
  }};
  for (const auto& [property, enable] : properties) {
    if (int res = nfc_device_set_property_bool(device, property, enable); res < 0) {
      return fail(res, "configuring the reader");
    }
  }
  device_lost_ = false;
  return {};
}

Status LibnfcReader::require_device() const {
  if (!device_ || device_lost_) {
    return make_error(ErrorCode::kUnavailable, connstring_ + ": reader lost; reconnect() needed");
  }
  return {};
}

std::unexpected<Error> LibnfcReader::fail(int code, std::string_view what) {
  const ErrorCode error_code = map_code(code);
  if (error_code == ErrorCode::kUnavailable) device_lost_ = true;
  // nfc_strerror() describes the device's last error, which is usually `code`; some paths
  // (a too-small buffer) return a code without recording it.
  std::string text = connstring_ + ": " + std::string(what) + ": ";
  if (device_ && nfc_device_get_last_error(device_.get()) == code) {
    text += nfc_strerror(device_.get());
    text += " (";
    text += code_name(code);
    text += ')';
  } else {
    text += code_name(code);
  }
  return make_error(error_code, std::move(text));
}

Result<std::optional<CardInfo>> LibnfcReader::select_once() {
  nfc_target target{};
  const int res =
      nfc_initiator_select_passive_target(device_.get(), kTypeA106, nullptr, 0, &target);
  if (res < 0) return fail(res, "polling for a card");
  if (res == 0) return std::optional<CardInfo>{};

  const nfc_iso14443a_info& a = target.nti.nai;
  // Sizes come from the reader's answer: check them before copying.
  if (a.szUidLen != 4 && a.szUidLen != 7 && a.szUidLen != 10) {
    return make_error(ErrorCode::kProtocol, connstring_ + ": card with a UID of " +
                                                std::to_string(a.szUidLen) + " bytes");
  }
  if (a.szAtsLen > sizeof(a.abtAts)) {
    return make_error(ErrorCode::kProtocol, connstring_ + ": ATS longer than libnfc's buffer");
  }
  CardInfo info;
  info.uid.assign(a.abtUid, a.abtUid + a.szUidLen);
  info.atqa = static_cast<std::uint16_t>((a.abtAtqa[0] << 8) | a.abtAtqa[1]);
  info.sak = a.btSak;
  if (a.szAtsLen > 0 || info.supports_iso_dep()) {
    // libnfc strips TL; CardInfo keeps the ATS as the card sent it, TL first. An ISO-DEP card
    // always has one (the chip sends RATS: NP_AUTO_ISO14443_4), if only the TL byte.
    info.ats.push_back(static_cast<std::uint8_t>(a.szAtsLen + 1));
    info.ats.insert(info.ats.end(), a.abtAts, a.abtAts + a.szAtsLen);
  }
  return std::optional<CardInfo>{std::move(info)};
}

Result<std::optional<CardInfo>> LibnfcReader::do_wait_for_card(std::chrono::milliseconds timeout) {
  if (auto s = require_device(); !s) return std::unexpected(s.error());
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto card = select_once();
    if (!card || card->has_value()) return card;
    if (Clock::now() >= deadline) return card;
    pause_until(deadline, options_.poll_interval);
  }
}

Result<Bytes> LibnfcReader::do_transceive(ByteView command_apdu,
                                          std::chrono::milliseconds timeout) {
  if (auto s = require_device(); !s) return std::unexpected(s.error());
  // Exactly the largest R-APDU ISO 7816-4 allows: libnfc refuses a longer answer (NFC_EOVFLOW)
  // instead of writing past the buffer.
  std::array<std::uint8_t, kMaxResponseApduBytes> response{};
  const int res =
      nfc_initiator_transceive_bytes(device_.get(), command_apdu.data(), command_apdu.size(),
                                     response.data(), response.size(), to_libnfc_timeout(timeout));
  if (res < 0) return fail(res, "exchanging an APDU");
  return Bytes(response.begin(), response.begin() + res);
}

Status LibnfcReader::do_release() {
  if (auto s = require_device(); !s) return s;
  // libnfc 1.8.0 returns 1, not 0, on success: only negative values are errors.
  const int res = nfc_initiator_deselect_target(device_.get());
  if (res >= 0 || res == NFC_ERFTRANS || res == NFC_ETGRELEASED) {
    return {};  // a card that is already gone needs no deselect
  }
  return fail(res, "deselecting the card");
}

Result<bool> LibnfcReader::do_wait_for_removal(std::chrono::milliseconds timeout) {
  if (auto s = require_device(); !s) return std::unexpected(s.error());
  const auto deadline = Clock::now() + timeout;
  nfc_device* device = device_.get();
  while (true) {
    // release() halted the card, and a halted card ignores polling. Switching the field off and
    // on resets every card in it, so a poll then finds the card if it is still there.
    for (bool on : {false, true}) {
      if (int res = nfc_device_set_property_bool(device, NP_ACTIVATE_FIELD, on); res < 0) {
        return fail(res, "resetting the RF field");
      }
    }
    auto card = select_once();
    if (!card) return std::unexpected(card.error());
    if (!card->has_value()) return true;

    // Still there: watch it with presence checks until it leaves or the time is up.
    while (true) {
      if (Clock::now() >= deadline) {
        // Halt it again, so that the next wait_for_card does not read the same card twice.
        nfc_initiator_deselect_target(device);
        return false;
      }
      pause_until(deadline, options_.poll_interval);
      const int res = nfc_initiator_target_is_present(device, nullptr);
      if (res == NFC_SUCCESS) continue;
      if (res == NFC_ETGRELEASED || res == NFC_ERFTRANS) return true;
      // Card types libnfc cannot ping: poll again from a field reset.
      if (res == NFC_EDEVNOTSUPP || res == NFC_EINVARG) break;
      return fail(res, "checking whether the card is still there");
    }
  }
}

}  // namespace faregate::hal::libnfc
