#pragma once
// Keys kept as files on the validator. The card-token key file holds the 32-byte key as 64 hex
// digits (one line); the operator provisions it (faregate-keys) and it must be readable by the
// validator only (mode 0600). The sealing key file is the back office's P-256 public key in PEM
// (SubjectPublicKeyInfo); it is public, but a substituted one would send card data to someone
// else, so it is provisioned like the other keys.

#include <filesystem>

#include "hal/key_store.h"

namespace faregate::hal::linux_os {

class FileKeyStore final : public KeyStore {
 public:
  // Reads and checks the key file now, so that a validator with a bad key fails at start-up,
  // not at the first tap.
  static Result<FileKeyStore> open(const std::filesystem::path& card_token_key_file,
                                   const std::filesystem::path& sealing_public_key_file);

  Result<Bytes> card_token_key() const override { return card_token_key_; }
  Result<sealed_box::PublicKey> sealing_public_key() const override { return sealing_key_; }

 private:
  FileKeyStore(Bytes key, sealed_box::PublicKey sealing_key)
      : card_token_key_(std::move(key)), sealing_key_(sealing_key) {}
  Bytes card_token_key_;
  sealed_box::PublicKey sealing_key_;
};

// Writes a key file in the format above (mode 0600). Fails if the file exists.
Status write_key_file(const std::filesystem::path& path, ByteView key);

}  // namespace faregate::hal::linux_os
