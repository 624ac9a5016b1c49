#pragma once
// A key store holding keys given at construction, for tests and in-process simulations.

#include "hal/key_store.h"

namespace faregate::hal::sim {

class StaticKeyStore final : public KeyStore {
 public:
  StaticKeyStore(Bytes card_token_key, sealed_box::PublicKey sealing_key)
      : card_token_key_(std::move(card_token_key)), sealing_key_(sealing_key) {}
  Result<Bytes> card_token_key() const override { return card_token_key_; }
  Result<sealed_box::PublicKey> sealing_public_key() const override { return sealing_key_; }

 private:
  Bytes card_token_key_;
  sealed_box::PublicKey sealing_key_;
};

}  // namespace faregate::hal::sim
