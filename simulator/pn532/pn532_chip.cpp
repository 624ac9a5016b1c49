#include "simulator/pn532/pn532_chip.h"

#include <algorithm>
#include <utility>

namespace faregate::simulator {

using namespace pn532;

namespace {

constexpr std::uint8_t kInAutoPoll = 0x60;
// InListPassiveTarget baud rate / modulation types the PN532 knows: 0 = 106 kbit/s type A,
// 1, 2 = FeliCa 212/424, 3 = 106 kbit/s type B, 4 = Innovision Jewel.
constexpr std::uint8_t kBrTyTypeA106 = 0x00;
constexpr std::uint8_t kBrTyMax = 0x04;
// InAutoPoll target types answered with a type A card.
constexpr std::uint8_t kPollGenericPassive106 = 0x00;
constexpr std::uint8_t kPollMifare = 0x10;
constexpr std::uint8_t kPollIso14443_4A = 0x20;
// SAMConfiguration modes: 1 normal, 2 virtual card, 3 wired card, 4 dual card.
constexpr std::uint8_t kSamModeMax = 0x04;
// RFConfiguration item 1: bit 0 switches the field on.
constexpr std::uint8_t kRfItemField = 0x01;
// Diagnose tests.
constexpr std::uint8_t kTestCommunication = 0x00;
constexpr std::uint8_t kTestRom = 0x01;
constexpr std::uint8_t kTestRam = 0x02;
constexpr std::uint8_t kTestCardPresence = 0x06;
// ISO 14443-4 block coding (PCB).
constexpr std::uint8_t kPcbIBlockMask = 0xE2;
constexpr std::uint8_t kPcbIBlock = 0x02;
constexpr std::uint8_t kPcbRBlockMask = 0xE6;
constexpr std::uint8_t kPcbRBlock = 0xA2;
constexpr std::uint8_t kPcbDeselect = 0xC2;
constexpr std::uint8_t kPcbSBlockMask = 0xF7;
constexpr std::uint8_t kPcbChaining = 0x10;
constexpr std::uint8_t kPcbCid = 0x08;
constexpr std::uint8_t kPcbNad = 0x04;
constexpr std::uint8_t kPcbBlockNumber = 0x01;
// Host-side C-APDU chaining is bounded so that a misbehaving host cannot grow it forever.
constexpr std::size_t kMaxChainedCommand = 4096;
// Target data = Tg ATQA(2) SAK NFCIDLen NFCID1(<=10) TL ATS; the response must fit one frame.
constexpr std::size_t kMaxAtsTail = 200;

Pn532Reply syntax_error() { return {Pn532Reply::Kind::kSyntaxError, {}}; }

Pn532Reply response(std::uint8_t command_code, const Bytes& params = {}) {
  Bytes data;
  data.reserve(params.size() + 1);
  data.push_back(static_cast<std::uint8_t>(command_code + 1));
  data.insert(data.end(), params.begin(), params.end());
  return {Pn532Reply::Kind::kResponse, std::move(data)};
}

bool valid_uid_size(std::size_t n) { return n == 4 || n == 7 || n == 10; }

// The initiator data libnfc sends to select one UID: the UID with cascade tags (0x88) in front
// of every cascade level but the last (ISO 14443-3 §6.5.4).
Bytes cascaded_uid(const Bytes& uid) {
  Bytes out;
  if (uid.size() == 4) return uid;
  out.push_back(0x88);
  out.insert(out.end(), uid.begin(), uid.begin() + 3);
  if (uid.size() == 7) {
    out.insert(out.end(), uid.begin() + 3, uid.end());
    return out;
  }
  out.push_back(0x88);
  out.insert(out.end(), uid.begin() + 3, uid.begin() + 6);
  out.insert(out.end(), uid.begin() + 6, uid.end());
  return out;
}

// Tg ATQA SAK NFCIDLen NFCID1 [TL ATS...]: what InListPassiveTarget and InAutoPoll report.
Bytes type_a_target_data(const hal::CardInfo& info, bool with_ats) {
  Bytes out{0x01, static_cast<std::uint8_t>(info.atqa >> 8),
            static_cast<std::uint8_t>(info.atqa & 0xFF), info.sak,
            static_cast<std::uint8_t>(info.uid.size())};
  out.insert(out.end(), info.uid.begin(), info.uid.end());
  if (with_ats) {
    // TL counts itself; it is recomputed from the ATS length so that it can never be 0, which
    // would make libnfc copy a huge ATS.
    const std::size_t tail = info.ats.empty() ? 0 : info.ats.size() - 1;
    out.push_back(static_cast<std::uint8_t>(tail + 1));
    if (tail > 0) out.insert(out.end(), info.ats.begin() + 1, info.ats.end());
  }
  return out;
}

Bytes take_chunk(Bytes& rest, std::size_t max) {
  const std::size_t n = std::min(max, rest.size());
  Bytes chunk(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(n));
  rest.erase(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(n));
  return chunk;
}

}  // namespace

Pn532Chip::Pn532Chip(Pn532ChipOptions options)
    : options_([&] {
        // A zero chunk could never make progress, a larger one would not fit one frame.
        options.max_exchange_chunk = std::clamp<std::size_t>(options.max_exchange_chunk, 1, 262);
        return options;
      }()) {}

void Pn532Chip::place_card(std::shared_ptr<hal::sim::ContactlessCard> card) {
  std::lock_guard lock(mutex_);
  card_ = std::move(card);
  ++placement_;
  card_halted_ = false;
}

void Pn532Chip::remove_card() {
  std::lock_guard lock(mutex_);
  card_.reset();
  ++placement_;
  card_halted_ = false;
}

bool Pn532Chip::has_card() const {
  std::lock_guard lock(mutex_);
  return card_ != nullptr;
}

std::uint8_t Pn532Chip::register_value(std::uint16_t address) const {
  std::lock_guard lock(mutex_);
  auto it = registers_.find(address);
  return it == registers_.end() ? 0 : it->second;
}

bool Pn532Chip::rf_field_on() const {
  std::lock_guard lock(mutex_);
  return field_on_;
}

bool Pn532Chip::target_selected() const {
  std::lock_guard lock(mutex_);
  return target_ && target_->selected;
}

std::size_t Pn532Chip::command_count(std::uint8_t command_code) const {
  std::lock_guard lock(mutex_);
  auto it = command_counts_.find(command_code);
  return it == command_counts_.end() ? 0 : it->second;
}

bool Pn532Chip::card_of_target_present_locked() const {
  return target_ && card_ && target_->placement == placement_;
}

std::shared_ptr<hal::sim::ContactlessCard> Pn532Chip::field_off_locked() {
  field_on_ = false;
  card_halted_ = false;  // without power the card forgets it was halted
  std::shared_ptr<hal::sim::ContactlessCard> deselected;
  if (target_ && target_->selected && card_of_target_present_locked()) deselected = card_;
  target_.reset();
  return deselected;
}

Pn532Reply Pn532Chip::handle(ByteView command) {
  std::lock_guard serial(command_mutex_);
  if (command.empty()) return syntax_error();
  const std::uint8_t code = command[0];
  const ByteView params = command.subspan(1);
  {
    std::lock_guard lock(mutex_);
    ++command_counts_[code];
  }
  switch (code) {
    case kDiagnose:
      return diagnose(params);
    case kGetFirmwareVersion:
      return response(code,
                      Bytes(options_.firmware_version.begin(), options_.firmware_version.end()));
    case kGetGeneralStatus:
      return get_general_status();
    case kReadRegister:
      return read_register(params);
    case kWriteRegister:
      return write_register(params);
    case kSetSerialBaudRate:
      if (params.empty()) return syntax_error();
      return response(code);
    case kSetParameters: {
      if (params.empty()) return syntax_error();
      std::lock_guard lock(mutex_);
      parameters_ = params[0];
      return response(code);
    }
    case kSamConfiguration:
      if (params.empty() || params[0] == 0 || params[0] > kSamModeMax) return syntax_error();
      return response(code);
    case kPowerDown:
      return power_down(params);
    case kRfConfiguration:
      return rf_configuration(params);
    case kInListPassiveTarget:
    case kInAutoPoll:
      return in_list_passive_target(command);
    case kInDataExchange:
      return in_data_exchange(params);
    case kInCommunicateThru:
      return in_communicate_thru(params);
    case kInDeselect:
      return in_deselect(code, params, /*release=*/false);
    case kInRelease:
      return in_deselect(code, params, /*release=*/true);
    case kInSelect:
      return in_select(params);
    default:
      // Target mode, GPIO, SAM and the rest are not modelled; the real chip answers commands it
      // does not know with the application-level error frame.
      return syntax_error();
  }
}

Pn532Reply Pn532Chip::diagnose(ByteView params) {
  if (params.empty()) return syntax_error();
  switch (params[0]) {
    case kTestCommunication:
      // Echoes the test number and the data: libnfc compares the whole answer.
      return response(kDiagnose, Bytes(params.begin(), params.end()));
    case kTestRom:
    case kTestRam:
      return response(kDiagnose, {kStatusOk});
    case kTestCardPresence: {
      std::lock_guard lock(mutex_);
      const bool present = card_of_target_present_locked() && target_->selected;
      return response(kDiagnose, {present ? kStatusOk : kStatusTimeout});
    }
    default:
      return syntax_error();
  }
}

Pn532Reply Pn532Chip::get_general_status() {
  std::lock_guard lock(mutex_);
  // Err Field NbTg [Tg BrRx BrTx Type] SAM
  Bytes out{last_rf_status_, static_cast<std::uint8_t>(field_on_ ? 1 : 0)};
  if (target_) {
    out.insert(out.end(), {0x01, 0x01, 0x00, 0x00, 0x00});
  } else {
    out.push_back(0x00);
  }
  out.push_back(0x00);
  return response(kGetGeneralStatus, std::move(out));
}

Pn532Reply Pn532Chip::read_register(ByteView params) {
  if (params.size() % 2 != 0) return syntax_error();
  std::lock_guard lock(mutex_);
  Bytes values;
  for (std::size_t i = 0; i < params.size(); i += 2) {
    const auto address = static_cast<std::uint16_t>((params[i] << 8) | params[i + 1]);
    auto it = registers_.find(address);
    values.push_back(it == registers_.end() ? 0 : it->second);
  }
  return response(kReadRegister, std::move(values));
}

Pn532Reply Pn532Chip::write_register(ByteView params) {
  if (params.size() % 3 != 0) return syntax_error();
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < params.size(); i += 3) {
    const auto address = static_cast<std::uint16_t>((params[i] << 8) | params[i + 1]);
    registers_[address] = params[i + 2];
  }
  return response(kWriteRegister);
}

Pn532Reply Pn532Chip::rf_configuration(ByteView params) {
  if (params.empty()) return syntax_error();
  std::shared_ptr<hal::sim::ContactlessCard> deselected;
  if (params[0] == kRfItemField) {
    if (params.size() < 2) return syntax_error();
    std::lock_guard lock(mutex_);
    if ((params[1] & 0x01) != 0) {
      field_on_ = true;
    } else {
      deselected = field_off_locked();
    }
  }
  // Timings, retry counts and analog settings change nothing a virtual card notices.
  if (deselected) deselected->on_deselect();
  return response(kRfConfiguration);
}

Pn532Reply Pn532Chip::power_down(ByteView params) {
  if (params.empty()) return syntax_error();
  std::shared_ptr<hal::sim::ContactlessCard> deselected;
  {
    std::lock_guard lock(mutex_);
    deselected = field_off_locked();
  }
  if (deselected) deselected->on_deselect();
  return response(kPowerDown, {kStatusOk});
}

Pn532Reply Pn532Chip::in_list_passive_target(ByteView command) {
  const std::uint8_t code = command[0];
  const ByteView params = command.subspan(1);
  ByteView initiator_data;
  ByteView poll_types;
  auto polls_for = [&poll_types](std::uint8_t type) {
    return std::find(poll_types.begin(), poll_types.end(), type) != poll_types.end();
  };
  if (code == kInListPassiveTarget) {
    // MaxTg BrTy [InitiatorData]
    if (params.size() < 2 || params[0] < 1 || params[0] > 2 || params[1] > kBrTyMax) {
      return syntax_error();
    }
    if (params[1] != kBrTyTypeA106) return response(code, {0x00});
    initiator_data = params.subspan(2);
  } else {
    // InAutoPoll: PollNr Period Type1 [Type2 ...]
    if (params.size() < 3) return syntax_error();
    poll_types = params.subspan(2);
    if (!polls_for(kPollGenericPassive106) && !polls_for(kPollMifare) &&
        !polls_for(kPollIso14443_4A)) {
      return response(code, {0x00});
    }
  }

  std::shared_ptr<hal::sim::ContactlessCard> card;
  std::uint64_t placement = 0;
  {
    std::lock_guard lock(mutex_);
    field_on_ = true;  // the chip switches the field on to poll
    target_.reset();
    // A halted card ignores the REQA the chip polls with until it leaves the field or loses
    // power: that is how a card that was just deselected is not found a second time.
    if (!card_ || card_halted_) return response(code, {0x00});
    card = card_;
    placement = placement_;
  }
  const hal::CardInfo info = card->info();

  std::lock_guard lock(mutex_);
  if (placement != placement_ || !valid_uid_size(info.uid.size()) ||
      (info.ats.size() > kMaxAtsTail + 1)) {
    return response(code, {0x00});
  }
  if (!initiator_data.empty()) {
    const Bytes wanted(initiator_data.begin(), initiator_data.end());
    if (wanted != cascaded_uid(info.uid)) return response(code, {0x00});
  }
  const bool iso_dep = (info.sak & kSakIsoDep) != 0;
  bool with_ats = iso_dep && (parameters_ & kParamAutoRats) != 0;
  std::uint8_t poll_type = kPollMifare;
  if (code == kInAutoPoll) {
    // An ISO-DEP card answers as ISO 14443-4A (with its ATS) when that type is polled for;
    // otherwise as a plain type A card, if that is polled for.
    with_ats = iso_dep && polls_for(kPollIso14443_4A);
    if (with_ats) {
      poll_type = kPollIso14443_4A;
    } else if (polls_for(kPollMifare)) {
      poll_type = kPollMifare;
    } else if (polls_for(kPollGenericPassive106)) {
      poll_type = kPollGenericPassive106;
    } else {
      return response(code, {0x00});
    }
  }
  Target target;
  target.placement = placement;
  target.info = info;
  target_ = std::move(target);

  Bytes data = type_a_target_data(info, with_ats);
  Bytes out{0x01};
  if (code == kInAutoPoll) {
    out.push_back(poll_type);
    out.push_back(static_cast<std::uint8_t>(data.size()));
  }
  out.insert(out.end(), data.begin(), data.end());
  return response(code, out);
}

Pn532Chip::CardAnswer Pn532Chip::ask_card(ByteView command_apdu) {
  std::shared_ptr<hal::sim::ContactlessCard> card;
  std::uint64_t placement = 0;
  {
    std::lock_guard lock(mutex_);
    if (!card_of_target_present_locked()) {
      target_.reset();
      last_rf_status_ = kStatusCardDisappeared;
      return {kStatusCardDisappeared, {}};
    }
    card = card_;
    placement = placement_;
  }
  auto answer = card->respond(command_apdu);

  std::lock_guard lock(mutex_);
  if (placement != placement_) {
    // The card was taken away while it was working on the command.
    target_.reset();
    last_rf_status_ = kStatusCardDisappeared;
    return {kStatusCardDisappeared, {}};
  }
  if (!answer) {
    if (answer.error().code == ErrorCode::kCardRemoved) {
      card_.reset();
      ++placement_;
      card_halted_ = false;
      target_.reset();
      last_rf_status_ = kStatusCardDisappeared;
      return {kStatusCardDisappeared, {}};
    }
    // A card that stays silent (or says nothing sensible) looks like an RF timeout.
    last_rf_status_ = kStatusTimeout;
    return {kStatusTimeout, {}};
  }
  last_rf_status_ = kStatusOk;
  return {kStatusOk, std::move(*answer)};
}

Pn532Reply Pn532Chip::in_data_exchange(ByteView params) {
  if (params.empty()) return syntax_error();
  const std::uint8_t tg = params[0];
  const ByteView data = params.subspan(1);
  Bytes command_apdu;
  {
    std::lock_guard lock(mutex_);
    if ((tg & 0x3F) != 1 || !target_ || !target_->selected) {
      return response(kInDataExchange, {kStatusNotAcceptable});
    }
    Target& target = *target_;
    if ((tg & kTargetMoreInformation) != 0) {
      target.pending_command.insert(target.pending_command.end(), data.begin(), data.end());
      if (target.pending_command.size() > kMaxChainedCommand) {
        target.pending_command.clear();
        return response(kInDataExchange, {kStatusNotAcceptable});
      }
      return response(kInDataExchange, {kStatusOk});
    }
    if (data.empty() && !target.pending_response.empty()) {
      // The host fetches the next part of a long R-APDU (libnfc sends "40 01" alone).
      Bytes out{kStatusOk};
      Bytes chunk = take_chunk(target.pending_response, options_.max_exchange_chunk);
      if (!target.pending_response.empty()) out[0] = kStatusMoreInformation;
      out.insert(out.end(), chunk.begin(), chunk.end());
      return response(kInDataExchange, std::move(out));
    }
    target.pending_response.clear();
    command_apdu = std::move(target.pending_command);
    target.pending_command.clear();
    command_apdu.insert(command_apdu.end(), data.begin(), data.end());
  }

  CardAnswer answer = ask_card(command_apdu);
  if (answer.status != kStatusOk) return response(kInDataExchange, {answer.status});

  std::lock_guard lock(mutex_);
  Bytes out{kStatusOk};
  if (target_) {
    // The chip wraps the exchange in I-blocks; keep the card's block number in step so that a
    // later raw R-block (libnfc's presence check) is answered as a card would.
    target_->picc_block ^= kPcbBlockNumber;
    target_->last_i_block = {static_cast<std::uint8_t>(kPcbIBlock | target_->picc_block)};
    target_->last_i_block.insert(target_->last_i_block.end(), answer.data.begin(),
                                 answer.data.end());
    if (answer.data.size() > options_.max_exchange_chunk) {
      out[0] = kStatusMoreInformation;
      Bytes chunk = take_chunk(answer.data, options_.max_exchange_chunk);
      target_->pending_response = std::move(answer.data);
      out.insert(out.end(), chunk.begin(), chunk.end());
      return response(kInDataExchange, std::move(out));
    }
  }
  out.insert(out.end(), answer.data.begin(), answer.data.end());
  return response(kInDataExchange, std::move(out));
}

Pn532Reply Pn532Chip::in_communicate_thru(ByteView params) {
  // Raw frames to the activated card. Only the ISO 14443-4 blocks a reader sends on its own
  // (libnfc: an R(NAK) as presence check) are understood; anything else goes unanswered.
  std::unique_lock lock(mutex_);
  const bool present = card_of_target_present_locked() && target_->selected;
  if (!present || params.empty()) {
    last_rf_status_ = kStatusTimeout;
    return response(kInCommunicateThru, {kStatusTimeout});
  }
  if ((target_->info.sak & kSakIsoDep) == 0) {
    // Not ISO-DEP: hand the raw bytes to the card as they are.
    lock.unlock();
    CardAnswer answer = ask_card(params);
    Bytes out{answer.status};
    out.insert(out.end(), answer.data.begin(), answer.data.end());
    return response(kInCommunicateThru, std::move(out));
  }

  const std::uint8_t pcb = params[0];
  const bool has_cid = (pcb & kPcbCid) != 0;
  if (has_cid && params.size() < 2) return response(kInCommunicateThru, {kStatusTimeout});
  Target& target = *target_;

  if ((pcb & kPcbRBlockMask) == kPcbRBlock) {
    // ISO 14443-4 §7.5.4 rules 11 and 12: an R-block carrying the card's own block number
    // makes it send its last block again, any other R-block is acknowledged.
    if ((pcb & kPcbBlockNumber) == target.picc_block && !target.last_i_block.empty()) {
      Bytes out{kStatusOk};
      out.insert(out.end(), target.last_i_block.begin(), target.last_i_block.end());
      return response(kInCommunicateThru, std::move(out));
    }
    Bytes out{kStatusOk,
              static_cast<std::uint8_t>(kPcbRBlock | target.picc_block | (has_cid ? kPcbCid : 0))};
    if (has_cid) out.push_back(params[1]);
    return response(kInCommunicateThru, std::move(out));
  }

  if ((pcb & kPcbSBlockMask) == kPcbDeselect) {
    Bytes out{kStatusOk, pcb};
    if (has_cid) out.push_back(params[1]);
    target.selected = false;
    card_halted_ = true;
    auto card = card_;
    lock.unlock();
    card->on_deselect();
    return response(kInCommunicateThru, std::move(out));
  }

  if ((pcb & kPcbIBlockMask) == kPcbIBlock && (pcb & kPcbChaining) == 0) {
    std::size_t offset = 1 + (has_cid ? 1 : 0) + ((pcb & kPcbNad) != 0 ? 1 : 0);
    if (params.size() < offset) return response(kInCommunicateThru, {kStatusTimeout});
    const Bytes command_apdu(params.begin() + static_cast<std::ptrdiff_t>(offset), params.end());
    Bytes header(params.begin(), params.begin() + static_cast<std::ptrdiff_t>(offset));
    lock.unlock();
    CardAnswer answer = ask_card(command_apdu);
    if (answer.status != kStatusOk) return response(kInCommunicateThru, {answer.status});
    lock.lock();
    Bytes block = std::move(header);
    block.insert(block.end(), answer.data.begin(), answer.data.end());
    if (target_) {
      target_->picc_block = pcb & kPcbBlockNumber;
      target_->last_i_block = block;
    }
    Bytes out{kStatusOk};
    out.insert(out.end(), block.begin(), block.end());
    return response(kInCommunicateThru, std::move(out));
  }

  // Chained I-blocks, S(WTX) answers and the rest: the virtual card stays silent.
  last_rf_status_ = kStatusTimeout;
  return response(kInCommunicateThru, {kStatusTimeout});
}

Pn532Reply Pn532Chip::in_deselect(std::uint8_t code, ByteView params, bool release) {
  // Tg: 0 = every target, 1 = the first (and only) one.
  if (params.empty()) return syntax_error();
  if (params[0] > 1) return response(code, {kStatusNotAcceptable});
  std::uint8_t status = kStatusOk;
  std::shared_ptr<hal::sim::ContactlessCard> deselected;
  {
    std::lock_guard lock(mutex_);
    if (target_) {
      const bool present = card_of_target_present_locked();
      if (target_->selected) {
        if (present) {
          // S(DESELECT) halts the card: polling does not find it again until it has left.
          card_halted_ = true;
          deselected = card_;
        } else {
          status = kStatusTimeout;  // nobody answered the S(DESELECT)
        }
        target_->selected = false;
      }
      if (release || !present) target_.reset();
    }
  }
  if (deselected) deselected->on_deselect();
  return response(code, {status});
}

Pn532Reply Pn532Chip::in_select(ByteView params) {
  if (params.empty()) return syntax_error();
  std::lock_guard lock(mutex_);
  if ((params[0] & 0x3F) != 1 || !target_) return response(kInSelect, {kStatusNotAcceptable});
  if (!card_of_target_present_locked()) {
    target_.reset();
    return response(kInSelect, {kStatusTimeout});
  }
  if (!target_->selected) {
    // WUPA wakes the halted card; it is activated afresh.
    target_->selected = true;
    target_->picc_block = 1;
    target_->last_i_block.clear();
    card_halted_ = false;
  }
  return response(kInSelect, {kStatusOk});
}

}  // namespace faregate::simulator
