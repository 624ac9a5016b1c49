#include "firmware/emv/apdu.h"

#include <string>

namespace faregate::emv {

std::string sw_hex(std::uint16_t sw) {
  const Bytes b{static_cast<std::uint8_t>(sw >> 8), static_cast<std::uint8_t>(sw)};
  return to_hex(b);
}

Result<ResponseApdu> parse_response(ByteView raw) {
  if (raw.size() < 2) {
    return make_error(ErrorCode::kProtocol,
                      "response APDU of " + std::to_string(raw.size()) + " bytes");
  }
  ResponseApdu r;
  r.data.assign(raw.begin(), raw.end() - 2);
  r.sw = static_cast<std::uint16_t>(raw[raw.size() - 2] << 8 | raw[raw.size() - 1]);
  return r;
}

Result<Bytes> select_by_name(ByteView name) {
  if (name.empty() || name.size() > 16) {
    return make_error(ErrorCode::kInvalidArgument,
                      "DF name of " + std::to_string(name.size()) + " bytes");
  }
  Bytes apdu{0x00, 0xA4, 0x04, 0x00, static_cast<std::uint8_t>(name.size())};
  apdu.insert(apdu.end(), name.begin(), name.end());
  apdu.push_back(0x00);
  return apdu;
}

Result<Bytes> read_record(std::uint8_t sfi, std::uint8_t record) {
  if (sfi < 1 || sfi > 30 || record < 1 || record > 254) {
    return make_error(ErrorCode::kInvalidArgument, "READ RECORD of SFI " + std::to_string(sfi) +
                                                       " record " + std::to_string(record));
  }
  // P2: SFI in the five high bits, 100b = "P1 is a record number".
  return Bytes{0x00, 0xB2, record, static_cast<std::uint8_t>(sfi << 3 | 0x04), 0x00};
}

Result<Bytes> get_processing_options(ByteView pdol_data) {
  // Lc counts the 83 tag and length byte too, and must fit one byte.
  if (pdol_data.size() > 252) {
    return make_error(ErrorCode::kInvalidArgument,
                      "PDOL data of " + std::to_string(pdol_data.size()) + " bytes");
  }
  Bytes apdu{0x80, 0xA8, 0x00, 0x00, static_cast<std::uint8_t>(pdol_data.size() + 2), 0x83,
             static_cast<std::uint8_t>(pdol_data.size())};
  apdu.insert(apdu.end(), pdol_data.begin(), pdol_data.end());
  apdu.push_back(0x00);
  return apdu;
}

Result<Bytes> generate_ac(std::uint8_t reference_control, ByteView cdol_data) {
  if (cdol_data.empty() || cdol_data.size() > 255) {
    return make_error(ErrorCode::kInvalidArgument,
                      "CDOL data of " + std::to_string(cdol_data.size()) + " bytes");
  }
  Bytes apdu{0x80, 0xAE, reference_control, 0x00, static_cast<std::uint8_t>(cdol_data.size())};
  apdu.insert(apdu.end(), cdol_data.begin(), cdol_data.end());
  apdu.push_back(0x00);
  return apdu;
}

Bytes get_response(std::uint8_t length) { return {0x00, 0xC0, 0x00, 0x00, length}; }

Result<Bytes> with_le(ByteView command, std::uint8_t le) {
  // Short APDU cases (ISO/IEC 7816-3, 12.1.3): 1 = header; 2 = header Le; 3 = header Lc data;
  // 4 = header Lc data Le.
  Bytes out(command.begin(), command.end());
  if (command.size() == 4) {
    out.push_back(le);
    return out;
  }
  if (command.size() == 5) {
    out.back() = le;
    return out;
  }
  if (command.size() < 5) return make_error(ErrorCode::kProtocol, "command shorter than a header");
  const std::size_t lc = command[4];
  if (lc != 0 && command.size() == 5 + lc) {
    out.push_back(le);
    return out;
  }
  if (lc != 0 && command.size() == 6 + lc) {
    out.back() = le;
    return out;
  }
  return make_error(ErrorCode::kProtocol, "command of " + std::to_string(command.size()) +
                                              " bytes with Lc " + std::to_string(lc));
}

Result<ResponseApdu> ApduChannel::transmit(ByteView command) {
  ++count_;
  auto raw = reader_.transceive(command, timeout_);
  if (!raw) return std::unexpected(raw.error());
  return parse_response(*raw);
}

Result<ResponseApdu> ApduChannel::exchange(ByteView command) {
  auto response = transmit(command);
  if (!response) return response;

  if (response->sw1() == 0x6C) {
    // Wrong length: SW2 names the right Le. Resend once; a second 6Cxx goes back to the caller
    // as a status word rather than looping on a card that keeps changing its mind.
    auto again = with_le(command, response->sw2());
    if (!again) return std::unexpected(again.error());
    response = transmit(*again);
    if (!response) return response;
  }

  Bytes data = std::move(response->data);
  for (int round = 0; response->sw1() == 0x61; ++round) {
    if (round == kMaxGetResponseRounds) {
      return make_error(ErrorCode::kProtocol, "card still answered 61xx after " +
                                                  std::to_string(kMaxGetResponseRounds) +
                                                  " GET RESPONSE rounds");
    }
    response = transmit(get_response(response->sw2()));
    if (!response) return response;
    data.insert(data.end(), response->data.begin(), response->data.end());
  }
  response->data = std::move(data);
  return response;
}

}  // namespace faregate::emv
