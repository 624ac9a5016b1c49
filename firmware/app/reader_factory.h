#pragma once
// Chooses the reader backend from configuration (never by #ifdef in business code).

#include <memory>
#include <string>

#include "common/error.h"
#include "hal/nfc_reader.h"

namespace faregate::app {

// "sim": the in-process reader with an empty field (bring-up and sync checks without hardware).
// Anything else is a libnfc connstring ("pn532_uart:/dev/ttyUSB0", or the simulator's virtual
// PN532 "pn532_uart:/dev/pts/N"); errors are libnfc's, with the connstring named.
Result<std::unique_ptr<hal::NfcReader>> make_reader(const std::string& connstring);

}  // namespace faregate::app
