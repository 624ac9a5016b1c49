#pragma once
// ISO/IEC 7816-4 command APDUs the validator sends to EMV cards, response parsing, and an
// exchange channel over hal::NfcReader that handles by itself the two status words a terminal
// must act on (EMV Book 1, 9.3.1): 61xx (more data: GET RESPONSE) and 6Cxx (wrong Le: send the
// same command again with Le = xx).

#include <chrono>
#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"
#include "hal/nfc_reader.h"

namespace faregate::emv {

// Status words the validator acts on.
inline constexpr std::uint16_t kSwOk = 0x9000;
inline constexpr std::uint16_t kSwFileNotFound = 0x6A82;
inline constexpr std::uint16_t kSwRecordNotFound = 0x6A83;
inline constexpr std::uint16_t kSwConditionsNotSatisfied = 0x6985;
inline constexpr std::uint16_t kSwInsNotSupported = 0x6D00;
// SELECT answered with a warning: the application is blocked (EMV Book 1, 12.3.3).
inline constexpr std::uint16_t kSwApplicationBlocked = 0x6283;

struct ResponseApdu {
  Bytes data;
  std::uint16_t sw = 0;  // SW1 << 8 | SW2
  bool ok() const { return sw == kSwOk; }
  std::uint8_t sw1() const { return static_cast<std::uint8_t>(sw >> 8); }
  std::uint8_t sw2() const { return static_cast<std::uint8_t>(sw); }
};

// "9000", "6a82": the status word as four hex digits, for logs and error details.
std::string sw_hex(std::uint16_t sw);

// Splits an R-APDU into data and SW1 SW2. kProtocol if shorter than two bytes.
Result<ResponseApdu> parse_response(ByteView raw);

// Case 4 SELECT by DF name (an AID or "2PAY.SYS.DDF01"), first occurrence, Le = 00.
// kInvalidArgument unless the name has 1 to 16 bytes (ISO/IEC 7816-4 DF names).
Result<Bytes> select_by_name(ByteView name);
// Case 2 READ RECORD of record `record` (1..254) in short file `sfi` (1..30), Le = 00.
// kInvalidArgument outside those ranges (the SFI comes from the card's AFL later on).
Result<Bytes> read_record(std::uint8_t sfi, std::uint8_t record);
// Case 4 GET PROCESSING OPTIONS with the PDOL data wrapped in tag 83, Le = 00.
// kInvalidArgument if the PDOL data does not fit a short APDU (more than 252 bytes).
Result<Bytes> get_processing_options(ByteView pdol_data);
// Case 4 GENERATE APPLICATION CRYPTOGRAM (EMV Book 3, 6.5.5) with the CDOL1 data, Le = 00.
// `reference_control` is P1: cryptogram type (0x00 AAC, 0x40 TC, 0x80 ARQC) | 0x10 to ask for a
// CDA signature. kInvalidArgument unless the data has 1..255 bytes.
inline constexpr std::uint8_t kGenerateAcArqc = 0x80;
inline constexpr std::uint8_t kGenerateAcCda = 0x10;
Result<Bytes> generate_ac(std::uint8_t reference_control, ByteView cdol_data);
// Case 2 GET RESPONSE for `length` bytes (0 = 256).
Bytes get_response(std::uint8_t length);

// Returns `command` with its Le set to `le`, adding an Le to a case 1 or 3 command. kProtocol
// if `command` is not a well-formed short APDU (its Lc disagrees with its size).
Result<Bytes> with_le(ByteView command, std::uint8_t le);

// Exchanges APDUs with the card the reader has activated. Not thread-safe; one per tap.
class ApduChannel {
 public:
  // Chained 61xx answers are followed with at most this many GET RESPONSE per command. With
  // at most 256 data bytes per response (hal::kMaxResponseApduBytes) this also bounds the
  // memory a card can make the validator use.
  static constexpr int kMaxGetResponseRounds = 8;

  // `timeout` applies to each APDU. `reader` must outlive the channel.
  ApduChannel(hal::NfcReader& reader, std::chrono::milliseconds timeout)
      : reader_(reader), timeout_(timeout) {}

  // Sends `command` and returns the card's final answer:
  //  - 6Cxx: the command is sent once more with Le = xx (a second 6Cxx is returned as is);
  //  - 61xx: GET RESPONSE is sent for xx bytes and the data of every round concatenated, at
  //    most kMaxGetResponseRounds rounds, else kProtocol.
  // Errors: those of hal::NfcReader::transceive (kCardRemoved, kTimeout, kProtocol,
  // kUnavailable, ...), kProtocol for a malformed response or an endless chain.
  Result<ResponseApdu> exchange(ByteView command);

  // APDUs sent so far, GET RESPONSE and resends included.
  std::uint32_t count() const { return count_; }

 private:
  Result<ResponseApdu> transmit(ByteView command);

  hal::NfcReader& reader_;
  std::chrono::milliseconds timeout_;
  std::uint32_t count_ = 0;
};

}  // namespace faregate::emv
