#pragma once
// hal::NfcReader on libnfc: real readers (a PN532 on a serial port, USB readers) and the
// simulator's virtual PN532 on a pty, chosen by libnfc connstring ("pn532_uart:/dev/ttyUSB0",
// "pn532_uart:/dev/pts/3"). Cards are polled as ISO 14443-A at 106 kbit/s; the chip activates
// ISO 14443-4 itself and frames APDUs (libnfc's "easy framing").
//
// Timing: every libnfc call is bounded. wait_for_card and wait_for_removal poll in a loop that
// ends at the caller's timeout; one poll may overrun it by at most one libnfc command timeout
// (300 ms for a select on a reader that stopped answering). A reader that vanished (EIO) fails
// at once with kUnavailable, and keeps failing until reconnect() succeeds.
//
// Errors (messages name the connstring and carry libnfc's nfc_strerror text):
//   kCardRemoved  the chip reports the card released or gone (NFC_ETGRELEASED)
//   kTimeout      the card did not answer (NFC_ERFTRANS; a real PN532 also reports a card that
//                 was pulled away this way) or the chip did not answer in time (NFC_ETIMEOUT)
//   kUnavailable  the reader is gone (NFC_EIO, NFC_ENOTSUCHDEV) or could not be opened
//   kProtocol     an answer longer than kMaxResponseApduBytes (NFC_EOVFLOW) or a malformed UID
//
// Not thread-safe, like every NfcReader: the card thread owns it.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "hal/nfc_reader.h"

// libnfc's handles, declared here so that users of this header do not see <nfc/nfc.h>.
struct nfc_context;
struct nfc_device;

namespace faregate::hal::libnfc {

struct LibnfcReaderOptions {
  // Pause between two polls for a card, and between two presence checks while waiting for
  // removal. A real PN532 spends a few milliseconds per poll; the pause keeps the loop from
  // hammering a fast (virtual) reader.
  std::chrono::milliseconds poll_interval{20};
};

class LibnfcReader final : public NfcReader {
 public:
  // Opens the reader named by `connstring` and puts it in reader (initiator) mode.
  // Errors: kUnavailable if libnfc cannot open it, kIo if it cannot be configured.
  static Result<std::unique_ptr<LibnfcReader>> open(std::string connstring,
                                                    LibnfcReaderOptions options = {});

  ~LibnfcReader() override;

  // Closes the device and opens the same connstring again (after the reader vanished, or to
  // reset it). The card the old device had activated is gone with it: call wait_for_card()
  // before the next transceive(). On failure the reader stays unusable (kUnavailable) and
  // reconnect() may be tried again.
  Status reconnect();

  std::string describe() const override { return connstring_; }

 private:
  struct ContextCloser {
    void operator()(nfc_context* context) const;
  };
  struct DeviceCloser {
    void operator()(nfc_device* device) const;
  };

  LibnfcReader(std::string connstring, LibnfcReaderOptions options);
  Status open_device();

  Result<std::optional<CardInfo>> do_wait_for_card(std::chrono::milliseconds timeout) override;
  Result<Bytes> do_transceive(ByteView command_apdu, std::chrono::milliseconds timeout) override;
  Status do_release() override;
  Result<bool> do_wait_for_removal(std::chrono::milliseconds timeout) override;
  Status do_reopen() override { return reconnect(); }

  // One ISO 14443-A poll. Returns the card, nullopt if none answered, or an error.
  Result<std::optional<CardInfo>> select_once();
  // Turns libnfc's negative return `code` into an Error, noting a vanished device.
  std::unexpected<Error> fail(int code, std::string_view what);
  Status require_device() const;

  std::string connstring_;
  LibnfcReaderOptions options_;
  std::unique_ptr<nfc_context, ContextCloser> context_;
  std::unique_ptr<nfc_device, DeviceCloser> device_;
  bool device_lost_ = false;
};

}  // namespace faregate::hal::libnfc
