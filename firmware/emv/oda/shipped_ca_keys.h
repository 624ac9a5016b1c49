#pragma once
// The schemes' production CA public keys shipped with Faregate (data/emv_ca_keys.json, built
// into the program so that a validator never starts without them). Checked like any key file:
// a corrupted entry refuses the whole table.

#include "common/error.h"
#include "firmware/emv/oda/ca_key_table.h"

namespace faregate::emv::oda {

Result<CaKeyTable> shipped_ca_keys();

}  // namespace faregate::emv::oda
