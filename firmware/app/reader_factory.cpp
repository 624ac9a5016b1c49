#include "firmware/app/reader_factory.h"

#include "hal/libnfc/libnfc_reader.h"
#include "hal/sim/sim_nfc_reader.h"

namespace faregate::app {

Result<std::unique_ptr<hal::NfcReader>> make_reader(const std::string& connstring) {
  if (connstring == "sim") return std::make_unique<hal::sim::SimNfcReader>();
  // Anything else is a libnfc connstring: a real reader, or the simulator's virtual PN532.
  auto reader = hal::libnfc::LibnfcReader::open(connstring);
  if (!reader) return std::unexpected(reader.error());
  return std::unique_ptr<hal::NfcReader>(std::move(*reader));
}

}  // namespace faregate::app
