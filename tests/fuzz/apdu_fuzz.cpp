// Fuzz target: the APDU layer. emv::ApduChannel exchanges one command with a card whose answers
// are the fuzz input (61xx chains, 6Cxx retries, answers too short or too long for ISO 7816-4, a
// card that leaves or falls silent), and parse_response / with_le run on the fuzzed bytes. The
// harness checks the contract of apdu.h on every run and aborts when it is broken, so the fuzzer
// reports a wrong answer as well as a memory error.
//
// Input layout:
//   byte 0        mode: bits 0-3 = APDUs before the card leaves the field (if bit 4 is set);
//                 bits 5-7 = the command: 1 = SELECT by the name below, 2 = READ RECORD (SFI,
//                 record = its first two bytes), 3 = GENERATE AC with that data, 4 = GET
//                 PROCESSING OPTIONS with that PDOL data, others = the raw bytes below
//   byte 1        n, then n bytes: the command, or the builder's argument
//   then          the card's answers in order, each a length byte L and L bytes; L = 0xFF is
//                 followed by a byte E and then 255 + E bytes (answers longer than 258 bytes).
//                 When the input runs out the card falls silent.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "firmware/emv/apdu.h"
#include "hal/sim/sim_nfc_reader.h"

namespace {

namespace emv = faregate::emv;
using faregate::ByteView;
using faregate::Bytes;

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "apdu_fuzz: contract broken: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) broken(what);
}

// Reads the input front to back; every read past the end yields nothing.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  std::uint8_t byte() { return empty() ? 0 : data_[pos_++]; }
  ByteView take(std::size_t n) {
    n = std::min(n, size_ - std::min(pos_, size_));
    ByteView out(data_ + pos_, n);
    pos_ += n;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// A card that answers with the next chunk of the input, whatever it was asked, and records the
// commands so that the harness can check what the channel sent.
class FuzzedCard final : public faregate::hal::sim::ContactlessCard {
 public:
  explicit FuzzedCard(Input& input) : input_(input) {}
  faregate::hal::CardInfo info() const override {
    return {Bytes{0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66}, 0x0044, 0x20, Bytes{0x05, 0x78}};
  }
  faregate::Result<Bytes> respond(ByteView command) override {
    commands.emplace_back(command.begin(), command.end());
    if (input_.empty()) {
      return faregate::make_error(faregate::ErrorCode::kTimeout, "card silent");
    }
    std::size_t length = input_.byte();
    if (length == 0xFF) length += input_.byte();
    const ByteView answer = input_.take(length);
    answers.emplace_back(answer.begin(), answer.end());
    return answers.back();
  }

  std::vector<Bytes> commands;
  std::vector<Bytes> answers;  // one per command that got an answer, in order

 private:
  Input& input_;
};

std::uint16_t sw_of(const Bytes& answer) {
  return static_cast<std::uint16_t>(answer[answer.size() - 2] << 8 | answer[answer.size() - 1]);
}

// An answer the reader passes on: SW1 SW2 present and at most 256 data bytes.
bool well_formed(const Bytes& answer) {
  return answer.size() >= 2 && answer.size() <= faregate::hal::kMaxResponseApduBytes;
}

void check_parse_response(ByteView raw) {
  auto parsed = emv::parse_response(raw);
  check(parsed.has_value() == (raw.size() >= 2), "parse_response accepts exactly 2+ bytes");
  if (!parsed) return;
  check(parsed->data.size() == raw.size() - 2, "parse_response data size");
  check(std::equal(parsed->data.begin(), parsed->data.end(), raw.begin()), "parse_response data");
  check(parsed->sw1() == raw[raw.size() - 2] && parsed->sw2() == raw[raw.size() - 1],
        "parse_response status word");
  check(emv::sw_hex(parsed->sw).size() == 4, "sw_hex is four digits");
}

void check_with_le(ByteView command, std::uint8_t le, std::uint8_t other_le) {
  auto out = emv::with_le(command, le);
  if (command.size() < 4) check(!out, "with_le accepts a command shorter than a header");
  if (!out) return;
  // Le is either appended or replaced; the rest of the command is left alone.
  check(out->size() == command.size() || out->size() == command.size() + 1, "with_le size");
  check(out->back() == le, "with_le sets Le");
  check(std::equal(out->begin(), out->end() - 1, command.begin()), "with_le keeps the command");
  // Its result is a command with an Le: setting Le again replaces it and adds nothing.
  auto again = emv::with_le(*out, other_le);
  check(again.has_value(), "with_le accepts its own result");
  check(again->size() == out->size() && again->back() == other_le, "with_le replaces its own Le");
}

// The command the channel is asked to send, or the builder's error for a bad argument.
faregate::Result<Bytes> build_command(unsigned kind, ByteView argument) {
  switch (kind) {
    case 1:
      return emv::select_by_name(argument);
    case 2:
      return emv::read_record(argument.empty() ? 0 : argument[0],
                              argument.size() < 2 ? 0 : argument[1]);
    case 3:
      return emv::generate_ac(emv::kGenerateAcArqc | emv::kGenerateAcCda, argument);
    case 4:
      return emv::get_processing_options(argument);
    default:
      return Bytes(argument.begin(), argument.end());
  }
}

// What the channel must have sent after answer i-1: a resend with the corrected Le after a first
// 6Cxx, a GET RESPONSE after 61xx, and nothing otherwise.
void check_commands(const Bytes& command, const FuzzedCard& card) {
  check(!card.commands.empty() && card.commands[0] == command, "the command is sent first");
  for (std::size_t i = 1; i < card.commands.size(); ++i) {
    check(i - 1 < card.answers.size() && well_formed(card.answers[i - 1]),
          "nothing is sent after a failed exchange");
    const std::uint16_t sw = sw_of(card.answers[i - 1]);
    const auto sw1 = static_cast<std::uint8_t>(sw >> 8);
    const auto sw2 = static_cast<std::uint8_t>(sw);
    if (i == 1 && sw1 == 0x6C) {
      auto resend = emv::with_le(command, sw2);
      check(resend && card.commands[i] == *resend, "6Cxx: resend with Le = xx");
    } else {
      check(sw1 == 0x61, "a command is sent only after 61xx or a first 6Cxx");
      check(card.commands[i] == emv::get_response(sw2), "61xx: GET RESPONSE for xx bytes");
    }
  }
}

void check_result(const faregate::Result<emv::ResponseApdu>& result, const FuzzedCard& card) {
  if (!result) return;
  check(!card.answers.empty() && card.answers.size() == card.commands.size(),
        "success means every command was answered");
  check(result->sw == sw_of(card.answers.back()), "the final status word is the last answer's");
  check(result->sw1() != 0x61, "a 61xx chain is followed to its end");
  // The data: every answer's, except a first 6Cxx answer's, which the resend replaces.
  const std::size_t first =
      card.answers.size() > 1 && (sw_of(card.answers[0]) >> 8) == 0x6C ? 1 : 0;
  Bytes expected;
  for (std::size_t i = first; i < card.answers.size(); ++i) {
    expected.insert(expected.end(), card.answers[i].begin(), card.answers[i].end() - 2);
  }
  check(result->data == expected, "the data of every round, concatenated");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_parse_response(ByteView(data, size));

  Input input(data, size);
  const std::uint8_t mode = input.byte();
  const ByteView argument = input.take(input.byte());
  check_with_le(argument, mode, static_cast<std::uint8_t>(~mode));

  auto command = build_command(mode >> 5, argument);
  if (!command) return 0;

  faregate::hal::sim::SimNfcReader reader;
  auto card = std::make_shared<FuzzedCard>(input);
  reader.place(card);
  if (mode & 0x10) reader.remove_card_after_apdus(mode & 0x0F);
  auto activated = reader.wait_for_card(std::chrono::milliseconds(0));
  check(activated && activated->has_value(), "the simulated card activates");

  emv::ApduChannel channel(reader, std::chrono::milliseconds(100));
  auto result = channel.exchange(*command);

  const bool sendable = command->size() >= faregate::hal::kMinCommandApduBytes &&
                        command->size() <= faregate::hal::kMaxCommandApduBytes;
  if (!sendable) {
    check(!result && card->commands.empty(), "a command of a bad size is not sent");
    return 0;
  }
  if (card->commands.empty()) {
    check(!result && (mode & 0x1F) == 0x10, "only a card already gone gets no command");
    return 0;
  }
  check_commands(*command, *card);
  check_result(result, *card);
  // One command, one resend, then at most kMaxGetResponseRounds GET RESPONSE: a bound on the
  // time and memory a card can take.
  check(channel.count() == card->commands.size() ||
            (channel.count() == card->commands.size() + 1 && (mode & 0x10)),
        "count() counts the APDUs sent");
  check(channel.count() <= 2 + emv::ApduChannel::kMaxGetResponseRounds, "bounded APDU count");
  for (const auto& answer : card->answers) check_parse_response(answer);
  return 0;
}
