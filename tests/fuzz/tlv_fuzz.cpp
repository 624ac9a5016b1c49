// Fuzz target: BER-TLV and DOL parsing of card data, the parsers every card byte goes through.
#include <cstddef>
#include <cstdint>

#include "firmware/emv/tlv.h"

namespace {
// Walks the whole tree so that every parsed view is read (ASan then sees any bad view).
std::size_t touch(const std::vector<faregate::emv::Tlv>& nodes) {
  std::size_t sum = 0;
  for (const auto& n : nodes) {
    for (std::uint8_t b : n.value) sum += b;
    sum += touch(n.children);
  }
  return sum;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const faregate::Bytes input(data, data + size);
  if (auto tlv = faregate::emv::parse_tlv(input)) {
    volatile std::size_t sink = touch(*tlv);
    (void)sink;
    (void)faregate::emv::find_tag(*tlv, 0x5A);
  }
  if (auto dol = faregate::emv::parse_dol(input)) {
    (void)faregate::emv::build_dol_data(*dol, {{0x9F02, {0x00, 0x01}}, {0x9F37, {1, 2, 3, 4}}});
  }
  return 0;
}
