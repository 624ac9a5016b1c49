#pragma once
// A key store holding keys given at construction, for tests and in-process simulations.

#include "hal/key_store.h"

namespace faregate::hal::sim {

class StaticKeyStore final : public KeyStore {
 public:
  explicit StaticKeyStore(Bytes card_token_key) : card_token_key_(std::move(card_token_key)) {}
  Result<Bytes> card_token_key() const override { return card_token_key_; }

 private:
  Bytes card_token_key_;
};

}  // namespace faregate::hal::sim
