#pragma once
// Test doubles for the card side of hal::sim::SimNfcReader.
//  - ScriptedCard replays (expected command, answer) pairs, like a recorded transcript; tests
//    check at the end that every exchange was consumed.
//  - PatchedCard is a catalog card whose answers to chosen commands are replaced, for hostile
//    data the catalog does not have.

#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <memory>
#include <utility>

#include "common/bytes.h"
#include "hal/sim/contactless_card.h"

namespace faregate::emv::test {

inline Bytes hex(const char* h) { return from_hex(h).value(); }

class ScriptedCard final : public hal::sim::ContactlessCard {
 public:
  std::deque<std::pair<Bytes, Bytes>> script;

  hal::CardInfo info() const override { return {Bytes{1, 2, 3, 4}, 0x0004, 0x20, {0x01}}; }
  Result<Bytes> respond(ByteView apdu) override {
    if (script.empty()) {
      FAIL_CHECK("unexpected command " << to_hex(apdu));
      return Bytes{0x6F, 0x00};
    }
    auto [expected, answer] = script.front();
    script.pop_front();
    CHECK(to_hex(apdu) == to_hex(expected));
    return answer;
  }
};

class PatchedCard final : public hal::sim::ContactlessCard {
 public:
  explicit PatchedCard(std::shared_ptr<hal::sim::ContactlessCard> inner)
      : inner_(std::move(inner)) {}

  // Answers `command` (hex) with `answer` (hex, SW included) instead of the inner card.
  void patch(const char* command, const Bytes& answer) { patches_[to_hex(hex(command))] = answer; }
  // Makes `command` fail at the transport level with `error`.
  void fail(const char* command, ErrorCode error) { failures_[to_hex(hex(command))] = error; }

  hal::CardInfo info() const override { return inner_->info(); }
  Result<Bytes> respond(ByteView apdu) override {
    const std::string key = to_hex(apdu);
    if (auto f = failures_.find(key); f != failures_.end()) {
      return make_error(f->second, "injected");
    }
    auto real = inner_->respond(apdu);  // keeps the inner card's state (selection) moving
    if (auto p = patches_.find(key); p != patches_.end()) return p->second;
    return real;
  }
  void on_deselect() override { inner_->on_deselect(); }

 private:
  std::shared_ptr<hal::sim::ContactlessCard> inner_;
  std::map<std::string, Bytes> patches_;
  std::map<std::string, ErrorCode> failures_;
};

}  // namespace faregate::emv::test
