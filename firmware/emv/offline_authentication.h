#pragma once
// The kernel's offline data authentication step: given what the card sent, run the chain of
// firmware/emv/oda for the method the card offers. Pure functions, no I/O: the kernel gathers
// the data objects, these decide.
//
//   SDA   issuer key from 90/92/9F32, then 93 over the static data
//   fDDA  issuer key, ICC key from 9F46/9F48/9F47 (its hash covers the static data), then
//         9F4B over the terminal's fDDA data (9F37, and for fDDA version 01 also 9F02, 5F2A,
//         9F69: Visa qVSDC)
//   CDA   issuer key, ICC key, then 9F4B from the GENERATE AC answer over the unpredictable
//         number; its ICC dynamic data must carry the same CID as 9F27 and the SHA-1 of the
//         transaction data (EMV Book 2, 6.6)
//
// The static data to be authenticated is the kernel's to assemble: the records the AFL marks
// for ODA, then the values of the tags in the SDA tag list (9F4A, which may only name 82).

#include <optional>

#include "common/bytes.h"
#include "firmware/emv/oda/ca_key_table.h"
#include "firmware/emv/oda/certificates.h"
#include "firmware/emv/oda/sha1.h"

namespace faregate::emv {

// The card's data objects for ODA; a view is empty when the card did not send the object.
struct OdaCardData {
  oda::Rid rid{};        // first five bytes of the selected AID
  ByteView ca_index;     // 8F
  ByteView pan;          // 5A
  oda::IssuerCertificateData issuer;
  oda::IccCertificateData icc;
  ByteView ssad;         // 93
  ByteView sdad;         // 9F4B
  ByteView static_data;  // assembled by the kernel
};

oda::OdaResult<void> authenticate_sda(const oda::CaKeyTable& table, const OdaCardData& card,
                                      oda::Date today);

// `terminal_data`: what the card was asked to sign (see above).
oda::OdaResult<void> authenticate_fdda(const oda::CaKeyTable& table, const OdaCardData& card,
                                       ByteView terminal_data, oda::Date today);

// `unpredictable_number`: 9F37 as sent. `cid`: 9F27 from the GENERATE AC answer.
// `transaction_data_hash`: SHA-1 over the PDOL data, the CDOL1 data and the GENERATE AC
// answer's data objects except 9F4B, as the kernel sent and received them.
oda::OdaResult<oda::CdaDynamicData> authenticate_cda(const oda::CaKeyTable& table,
                                                     const OdaCardData& card,
                                                     ByteView unpredictable_number,
                                                     std::uint8_t cid,
                                                     const oda::Sha1Digest& transaction_data_hash,
                                                     oda::Date today);

}  // namespace faregate::emv
