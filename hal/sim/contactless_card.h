#pragma once
// The card side of the in-process reader: anything that can sit in the simulated RF field and
// answer APDUs. The simulator's virtual cards (simulator/cards) implement it; hal/ never sees
// them, only this interface.

#include "common/bytes.h"
#include "common/error.h"
#include "hal/nfc_reader.h"

namespace faregate::hal::sim {

class ContactlessCard {
 public:
  virtual ~ContactlessCard() = default;
  // What anticollision and activation report for this card.
  virtual CardInfo info() const = 0;
  // Answers one command APDU with a response APDU (data + SW1 SW2). An error models a card that
  // stops answering (kTimeout) or leaves (kCardRemoved).
  virtual Result<Bytes> respond(ByteView command_apdu) = 0;
  // Called when the reader deselects the card (end of one tap).
  virtual void on_deselect() {}
};

}  // namespace faregate::hal::sim
