// Fuzz target: the firmware image parser and verifier (bytes from a technician's laptop or a
// download) and the boot state parser (bytes from a disk that may be damaged). The same input
// goes through each.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "firmware/update/boot/build_key.h"
#include "firmware/update/boot_state.h"
#include "firmware/update/image_format.h"
#include "firmware/update/image_verifier.h"
#include "firmware/update/signing_key.h"

namespace {
const faregate::update::PublicKey& trusted() {
  static const auto kKey =
      faregate::update::PublicKey::from_pem(faregate::update::build_public_key_pem());
  return *kKey;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace faregate::update;
  const faregate::ByteView input(data, size);
  if (auto parts = parse_image(input)) {
    // Read every view so that ASan sees a view that points outside the input.
    std::size_t sum = 0;
    for (std::uint8_t b : parts->payload) sum += b;
    for (std::uint8_t b : parts->signature) sum += b;
    volatile std::size_t sink = sum;
    (void)sink;
  }
  if (auto verified = verify_image(input, trusted())) {
    (void)check_security_counter(verified->header, 1);
  }
  (void)decode_boot_state(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
