// Published EMV examples with complete values, verified against production CA keys.
//
// Source: emv-tools by Dmitry Eremin-Solenikov (LGPL-2.1), test vectors in sda_test.c and
// dda_test.c, as carried in RfidResearchGroup/proxmark3 client/src/emv/test/. The values are
// taken from real cards: a Mastercard (PAN 5285881254345653, CA key A000000004/05) doing DDA
// and a Visa (PAN 4276550013234599, CA key A000000003/01, withdrawn in 2009) doing SDA. Only
// the data is used here; the verification is ours.

#include <catch2/catch.hpp>
#include <stdexcept>

#include "firmware/emv/oda/certificates.h"

using faregate::Bytes;
using faregate::from_hex;
using faregate::to_hex;
namespace oda = faregate::emv::oda;

namespace {

// Test data typed in this file; a typo is a programmer error, so it throws (also during static
// initialisation, where Catch2's REQUIRE cannot run).
Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  if (!bytes) throw std::invalid_argument("bad hex in test data: " + std::string(text));
  return *bytes;
}

constexpr oda::Date date(int y, unsigned m, unsigned d) {
  return oda::Date{std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)};
}

std::string reason(const auto& result) {
  return result ? std::string("ok") : std::string(oda::to_string(result.error()));
}

// ---- Mastercard DDA card (dda_test.c) --------------------------------------------------------

const Bytes kMcPan = hex("5285881254345653");
const Bytes kMcIssuerCert =
    hex("1714284F763B8586EE6D319951F7E63FA25076E50DC9D3200BA998D3A052ADBA9AB69AC6AD6ADD3CE09F0278"
        "F4074EC4EE9B1D2268A3E953575E454E50CD860BF424C51C597712D2AA057089DD8673E51B1E1D7188034892"
        "077AC18A6AE23488BEA9DF3B1A83F2C0800CD7C5CDF2FDE0496F7BC39FB4BF363299BFA637B2EC33C507E368"
        "21EEC2075F0E420D38A1C9F3127261BA316C987674FADB20EA7FEB75EE455D12146EA6F02E8B01EC2FA7A115");
const Bytes kMcIssuerRemainder =
    hex("6E63B7BC70ABDD09341B34C03286BA9BD83BA7936C5B7798FB22C5E53FF240A26DBD6415");
const Bytes kMcIccCert =
    hex("A42FBEB156B98DCB0554DA062ADCA5309A91F04FA2C7BD7102A8D73F16A3CFADE8AADF4F3FE2A2125CCDD77C"
        "6B9F78B5B4371CE0805725B0F9C027AF147D91E1FFDB201E9C170CE777053A172AD526DCAFD33895E1A94730"
        "5C5B167F2E7C6F991581A652EE473154760C2ED774214E50DFECDD4CF294C974B89EBCA25B5AB3C0BEB50DFA"
        "F782AFDE1433D90CA2A89D651E75D67EBC7C3E36F5A165EE6132612939C1ECD399E46074B996D93A88E01E0A");
const Bytes kMcSdad =
    hex("3D87F31056102D2512CFDE30900627C1263A76D1DAA821F50831E606C54544C258131EAEBE874DCB1A28CF82"
        "D3FF91118260BC91113711D3B289FA41BE69C7A7B5C783E6F8F97FCE13F08B13FA44183E3718CEBF0C41473D"
        "2B0FF4DE44B6A02D75ADB6D4962393FFDF4E69026CDF38FF");
// Static data to be authenticated: the card's ODA records followed by the AIP (3900).
const Bytes kMcStaticData =
    hex("5F25031405015F24031506305A0852858812543456535F3401018E0C00000000000000001E031F039F0702FF"
        "009F0D05BC50BC00009F0E0500000000009F0F05BC70BC98009F4A01825F280206438C219F02069F03069F1A"
        "0295055F2A029A039C019F37049F35019F45029F4C089F34038D0C910A8A0295059F37049F4C083900");
// DDOL data: the unpredictable number the terminal sent, 00000000.
const Bytes kMcDdolData = hex("00000000");
const Bytes kExponent3 = hex("03");

// ---- Visa SDA card (sda_test.c) ----------------------------------------------------------------

const Bytes kVisaPan = hex("4276550013234599");
const Bytes kVisaCa01Modulus =
    hex("C696034213D7D8546984579D1D0F0EA519CFF8DEFFC429354CF3A871A6F7183F1228DA5C7470C055387100CB"
        "935A712C4E2864DF5D64BA93FE7E63E71F25B1E5F5298575EBE1C63AA617706917911DC2A75AC28B251C7EF4"
        "0F2365912490B939BCA2124A30A28F54402C34AECA331AB67E1E79B285DD5771B5D9FF79EA630B75");
const Bytes kVisaIssuerCert =
    hex("3C5FEAD4DD7BCA44F93E90C44F76EDE54A3288ECDC78469FCB1225C03B2C04F2C2F412281A0822DF14649230"
        "989FB1494070DAF8C9534A7881960148616ACE581788120D3506ACE4CEE564FB27EE53341C22F0B45B31873D"
        "05DE545EFE33BCD29B2185D035A806AD08C6976F3505A19999930CA8A03EFA321C486061F7DCEC9F");
const Bytes kVisaIssuerRemainder =
    hex("1EBCA30F00CE5962A8C6E130544B82891B236C65DE29317F364735DEE63F6598975835D5");
const Bytes kVisaSsad =
    hex("99A558B62B674AA5E7D2A57E5EF6A6F2258E5DA052D05B54E5C115FF1CECF94AA2DF8F39A01D71C619EB819D"
        "A52EF381E84979586AEA7855FFBEF40AA3A71CD3B04CFDF270AEC8158A2797F24FD613B748134661135CD290"
        "E45B04A8E0CCC711AE042F159E73C89C2A7E65A4C2FD1D6106024AA27130B0ECEC0238F91659DE96");
const Bytes kVisaStaticData =
    hex("5F24030812315A0842765500132345995F3401019F0702FF009F0D05D040ACA8009F0E0500100000009F0F05"
        "D068BCF8005C00");

oda::CaKeyTable shipped_table() {
  auto table = oda::CaKeyTable::from_file(std::string(FAREGATE_DATA_DIR) + "/emv_ca_keys.json");
  REQUIRE(table);
  return std::move(*table);
}

}  // namespace

TEST_CASE("a published Mastercard DDA card verifies against the shipped CA key 05") {
  const oda::CaKeyTable table = shipped_table();
  const oda::Rid rid{0xA0, 0x00, 0x00, 0x00, 0x04};
  const oda::Date today = date(2015, 6, 30);  // the ICC certificate's last valid day

  auto issuer = oda::recover_issuer_public_key(
      table, rid, 0x05, {kMcIssuerCert, kMcIssuerRemainder, kExponent3}, kMcPan, today);
  INFO(reason(issuer));
  REQUIRE(issuer);
  CHECK(to_hex(issuer->issuer_identifier) == "528588ff");
  CHECK(to_hex(issuer->expiry) == "1221");
  CHECK(issuer->key.modulus.size() == 176);

  auto icc = oda::recover_icc_public_key(*issuer, {kMcIccCert, {}, kExponent3}, kMcPan,
                                         kMcStaticData, today);
  INFO(reason(icc));
  REQUIRE(icc);
  CHECK(to_hex(icc->pan) == "5285881254345653ffff");
  CHECK(to_hex(icc->expiry) == "0615");
  CHECK(icc->key.modulus.size() == 112);

  auto dynamic = oda::verify_signed_dynamic_data(*icc, kMcSdad, kMcDdolData);
  INFO(reason(dynamic));
  REQUIRE(dynamic);
  CHECK(to_hex(dynamic->icc_dynamic_number) == "7a33fb8c9546e1e7");

  // The same card the day after its ICC certificate expired, and with another UN.
  CHECK(reason(oda::recover_icc_public_key(*issuer, {kMcIccCert, {}, kExponent3}, kMcPan,
                                           kMcStaticData, date(2015, 7, 1))) == "icc_cert_expired");
  CHECK(reason(oda::verify_signed_dynamic_data(*icc, kMcSdad, hex("00000001"))) ==
        "sdad_hash_mismatch");
  // Against the other Mastercard production key, the certificate is the wrong length.
  CHECK(reason(oda::recover_issuer_public_key(
            table, rid, 0x06, {kMcIssuerCert, kMcIssuerRemainder, kExponent3}, kMcPan, today)) ==
        "issuer_cert_bad_length");
}

TEST_CASE("a published Visa SDA card verifies against the withdrawn CA key 01") {
  // Visa's 1024-bit key 01 is long withdrawn and not in the shipped table; add it in code,
  // through the same checksum check, with the checksum Visa published for it.
  oda::CaPublicKey ca;
  ca.rid = {0xA0, 0x00, 0x00, 0x00, 0x03};
  ca.index = 0x01;
  ca.modulus = kVisaCa01Modulus;
  ca.exponent = kExponent3;
  const Bytes checksum = hex("D34A6A776011C7E7CE3AEC5F03AD2F8CFC5503CC");
  std::copy(checksum.begin(), checksum.end(), ca.checksum.begin());
  oda::CaKeyTable table;
  REQUIRE(table.add(ca));

  const oda::Date today = date(2009, 12, 31);
  auto issuer = oda::recover_issuer_public_key(
      table, ca.rid, 0x01, {kVisaIssuerCert, kVisaIssuerRemainder, kExponent3}, kVisaPan, today);
  INFO(reason(issuer));
  REQUIRE(issuer);
  CHECK(to_hex(issuer->issuer_identifier) == "427655ff");
  CHECK(to_hex(issuer->expiry) == "1209");

  auto ssad = oda::verify_signed_static_data(*issuer, kVisaSsad, kVisaStaticData);
  INFO(reason(ssad));
  REQUIRE(ssad);
  CHECK(to_hex(ssad->data_authentication_code) == "3132");

  CHECK(reason(oda::recover_issuer_public_key(
            table, ca.rid, 0x01, {kVisaIssuerCert, kVisaIssuerRemainder, kExponent3}, kVisaPan,
            date(2010, 1, 1))) == "issuer_cert_expired");
  CHECK(reason(oda::recover_issuer_public_key(table, ca.rid, 0x01,
                                              {kVisaIssuerCert, kVisaIssuerRemainder, kExponent3},
                                              kMcPan, today)) == "issuer_cert_pan_mismatch");
}
