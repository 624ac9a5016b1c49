#include "simulator/cards/card_personalization.h"

#include "simulator/cards/simulator_pki.h"

namespace faregate::simulator {

namespace {

int bcd_value(std::uint8_t b) { return (b >> 4) * 10 + (b & 0x0F); }

}  // namespace

Status personalize(EmvCardProfile& profile, std::uint64_t key_choice,
                   const PersonalizationFaults& faults) {
  auto pki = simulator_pki();
  if (!pki) return std::unexpected(pki.error());
  if (profile.expiry_yymmdd.size() != 3) {
    return make_error(ErrorCode::kInvalidArgument, "card expiry must be 3 BCD bytes");
  }
  // Issuer certificates last longer than cards; the ICC certificate ends with the card.
  auto issuer_expiry = sim::issuer::expiry_mmyy(12, 2035);
  auto card_expiry = sim::issuer::expiry_mmyy(
      static_cast<unsigned>(bcd_value(profile.expiry_yymmdd[1])),
      2000 + bcd_value(profile.expiry_yymmdd[0]));
  auto issuer_id = sim::issuer::issuer_identifier(profile.pan, 6);
  if (!issuer_expiry || !card_expiry || !issuer_id) {
    return make_error(ErrorCode::kInvalidArgument, "card data cannot be certified");
  }
  // Signing is deterministic per card, so the same card kind and seed give the same card.
  auto drbg = crypto::Drbg::deterministic(key_choice ^ 0x9E3779B97F4A7C15ULL);

  auto data = std::make_shared<CardOdaData>();
  data->ca_index = faults.ca_index.value_or(kTestCaIndex);
  sim::issuer::IssuerCertificateFields issuer_fields;
  issuer_fields.issuer_identifier = *issuer_id;
  issuer_fields.expiry = *issuer_expiry;
  if (faults.issuer_serial) issuer_fields.serial_number = *faults.issuer_serial;
  auto issuer_cert = sim::issuer::build_issuer_certificate(
      (*pki)->ca, (*pki)->issuer.public_key(), issuer_fields, drbg);
  if (!issuer_cert) return std::unexpected(issuer_cert.error());
  data->issuer = std::move(*issuer_cert);

  const Bytes static_data = EmvCard::static_data_to_authenticate(profile);
  if (profile.oda == OdaKind::kSda) {
    auto ssad = sim::issuer::sign_static_data((*pki)->issuer, {0xDA, 0xC1}, static_data, drbg);
    if (!ssad) return std::unexpected(ssad.error());
    data->ssad = std::move(*ssad);
  } else {
    const auto& icc_key = (*pki)->icc_keys[key_choice % (*pki)->icc_keys.size()];
    auto certified_pan = sim::issuer::certificate_pan(faults.certified_pan.value_or(profile.pan));
    if (!certified_pan) return std::unexpected(certified_pan.error());
    sim::issuer::IccCertificateFields icc_fields;
    icc_fields.pan = *certified_pan;
    icc_fields.expiry = *card_expiry;
    auto icc_cert = sim::issuer::build_icc_certificate((*pki)->issuer, icc_key.public_key(),
                                                       icc_fields, static_data, drbg);
    if (!icc_cert) return std::unexpected(icc_cert.error());
    data->icc = std::move(*icc_cert);
    data->icc_key = &icc_key;
  }
  profile.oda_data = std::move(data);
  return {};
}

}  // namespace faregate::simulator
