// The key files faregate-keys writes are the ones the rest of Faregate reads: the validator's
// FileKeyStore (card-token key, sealing public key) and the back office's sealed_box private key.
// Runs the real faregate-keys program.

#include <catch2/catch.hpp>

#include <cstdlib>

#include "common/sealed_box.h"
#include "common/tls/mbedtls_handles.h"
#include "hal/linux/file_key_store.h"
#include "tests/support/temp_dir.h"

using faregate::testing::TempDir;

TEST_CASE("a validator opens the card-token key and sealing key faregate-keys made, and the back office opens what it sealed") {
  TempDir dir;
  const auto token_key = dir.path() / "card_token.key";
  const auto private_key = dir.path() / "sealing_private.pem";
  const auto public_key = dir.path() / "sealing_public.pem";
  const std::string keys = FAREGATE_KEYS_BIN;
  REQUIRE(std::system((keys + " card-token-key --out " + token_key.string() + " > /dev/null").c_str()) == 0);
  REQUIRE(std::system((keys + " sealing-keypair --private-out " + private_key.string() +
                       " --public-out " + public_key.string() + " > /dev/null")
                          .c_str()) == 0);

  auto store = faregate::hal::linux_os::FileKeyStore::open(token_key, public_key);
  REQUIRE(store);
  CHECK(store->card_token_key().value().size() == 32);

  auto private_pem = faregate::tls::read_text_file(private_key);
  REQUIRE(private_pem);
  auto opener = faregate::sealed_box::PrivateKey::from_pem(*private_pem);
  REQUIRE(opener);
  CHECK(opener->public_key() == store->sealing_public_key().value());

  auto drbg = faregate::crypto::Drbg::deterministic(9);
  const auto pan = faregate::as_bytes("4761739001010010");
  auto box = faregate::sealed_box::seal(pan, faregate::as_bytes("gate-1/1"),
                                        store->sealing_public_key().value(), drbg);
  REQUIRE(box);
  auto opened = faregate::sealed_box::open(*box, faregate::as_bytes("gate-1/1"), *opener);
  REQUIRE(opened);
  CHECK(*opened == faregate::Bytes(pan.begin(), pan.end()));
}
