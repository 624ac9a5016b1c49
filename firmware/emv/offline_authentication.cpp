#include "firmware/emv/offline_authentication.h"

#include "common/crypto.h"

namespace faregate::emv {

namespace {

using oda::OdaFailure;

oda::OdaResult<oda::IssuerPublicKey> issuer_key(const oda::CaKeyTable& table,
                                                const OdaCardData& card, oda::Date today) {
  if (card.ca_index.size() != 1 || card.issuer.certificate.empty() || card.pan.empty()) {
    return std::unexpected(OdaFailure::kDataMissing);
  }
  return oda::recover_issuer_public_key(table, card.rid, card.ca_index[0], card.issuer, card.pan,
                                        today);
}

oda::OdaResult<oda::IccPublicKey> icc_key(const oda::CaKeyTable& table, const OdaCardData& card,
                                          oda::Date today) {
  auto issuer = issuer_key(table, card, today);
  if (!issuer) return std::unexpected(issuer.error());
  if (card.icc.certificate.empty() || card.icc.exponent.empty()) {
    return std::unexpected(OdaFailure::kDataMissing);
  }
  return oda::recover_icc_public_key(*issuer, card.icc, card.pan, card.static_data, today);
}

}  // namespace

oda::OdaResult<void> authenticate_sda(const oda::CaKeyTable& table, const OdaCardData& card,
                                      oda::Date today) {
  auto issuer = issuer_key(table, card, today);
  if (!issuer) return std::unexpected(issuer.error());
  if (card.ssad.empty()) return std::unexpected(OdaFailure::kDataMissing);
  auto signature = oda::verify_signed_static_data(*issuer, card.ssad, card.static_data);
  if (!signature) return std::unexpected(signature.error());
  return {};
}

oda::OdaResult<void> authenticate_fdda(const oda::CaKeyTable& table, const OdaCardData& card,
                                       ByteView terminal_data, oda::Date today) {
  auto icc = icc_key(table, card, today);
  if (!icc) return std::unexpected(icc.error());
  if (card.sdad.empty()) return std::unexpected(OdaFailure::kDataMissing);
  auto signature = oda::verify_signed_dynamic_data(*icc, card.sdad, terminal_data);
  if (!signature) return std::unexpected(signature.error());
  return {};
}

oda::OdaResult<oda::CdaDynamicData> authenticate_cda(const oda::CaKeyTable& table,
                                                     const OdaCardData& card,
                                                     ByteView unpredictable_number,
                                                     std::uint8_t cid,
                                                     const oda::Sha1Digest& transaction_data_hash,
                                                     oda::Date today) {
  auto icc = icc_key(table, card, today);
  if (!icc) return std::unexpected(icc.error());
  if (card.sdad.empty()) return std::unexpected(OdaFailure::kDataMissing);
  // For CDA the terminal dynamic data the card signs is the unpredictable number (Book 2,
  // 6.6.1).
  auto signature = oda::verify_signed_dynamic_data(*icc, card.sdad, unpredictable_number);
  if (!signature) return std::unexpected(signature.error());
  auto dynamic = oda::parse_cda_dynamic_data(signature->icc_dynamic_data);
  if (!dynamic) return std::unexpected(dynamic.error());
  // The CID in clear could be altered on the way (an ARQC turned into a TC); the signed one
  // cannot.
  if (dynamic->cryptogram_information_data != cid) {
    return std::unexpected(OdaFailure::kCdaCidMismatch);
  }
  if (!crypto::equal_constant_time(dynamic->transaction_data_hash, transaction_data_hash)) {
    return std::unexpected(OdaFailure::kCdaHashMismatch);
  }
  return dynamic;
}

}  // namespace faregate::emv
