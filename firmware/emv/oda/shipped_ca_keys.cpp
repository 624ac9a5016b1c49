#include "firmware/emv/oda/shipped_ca_keys.h"

#include "firmware/emv/oda/shipped_ca_keys_json.h"

namespace faregate::emv::oda {

Result<CaKeyTable> shipped_ca_keys() {
  auto table = CaKeyTable::from_json(kShippedCaKeysJson);
  if (!table) return with_context(table.error(), "shipped CA keys (data/emv_ca_keys.json)");
  return table;
}

}  // namespace faregate::emv::oda
