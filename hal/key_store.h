#pragma once
// hal::KeyStore: where a validator keeps its secrets. The card-token key is shared by every
// validator of a network (so that one card gives one token everywhere) and is provisioned by the
// operator; it never leaves the key store except to compute tokens. The sealing public key is
// the back office's, provisioned beside it. Backends: hal/linux
// FileKeyStore (key files in the data directory), hal/sim StaticKeyStore (tests).

#include "common/bytes.h"
#include "common/error.h"
#include "common/sealed_box.h"

namespace faregate::hal {

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // The HMAC-SHA256 key for card tokens (32 bytes).
  virtual Result<Bytes> card_token_key() const = 0;
  // The back office's public key that card data is sealed for (docs/sealed_card_data.md). Only
  // the back office holds the private half; a validator can seal but never open.
  virtual Result<sealed_box::PublicKey> sealing_public_key() const = 0;
};

}  // namespace faregate::hal
