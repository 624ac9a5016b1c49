#pragma once
// Cards that replay or record a command/response transcript (docs/card_transcript.md), so that
// a capture from a real reader becomes a regression test, and a simulated tap can be kept as
// one.
//
// TranscriptCard answers the exchanges in order: each command must match the next recorded
// one, byte for byte except where the transcript has "??" (bytes the terminal makes fresh each
// tap: unpredictable number, date). A command that does not match is answered 6D00 and noted;
// tests check at the end that every exchange was consumed and none mismatched (like a scripted
// scripted test card must).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "hal/sim/contactless_card.h"

namespace faregate::simulator {

struct TranscriptExchange {
  std::string command;  // lower-case hex, "??" for any byte
  Bytes response;       // data || SW1 SW2
};

struct Transcript {
  std::string about;
  hal::CardInfo card;
  std::vector<TranscriptExchange> exchanges;
};

// kInvalidArgument with the exchange number and what is wrong.
Result<Transcript> parse_transcript(std::string_view json_text);
Result<Transcript> load_transcript(const std::string& path);
std::string transcript_json(const Transcript& transcript);

class TranscriptCard final : public hal::sim::ContactlessCard {
 public:
  explicit TranscriptCard(Transcript transcript) : transcript_(std::move(transcript)) {}

  hal::CardInfo info() const override { return transcript_.card; }
  Result<Bytes> respond(ByteView command_apdu) override;

  std::size_t consumed() const { return next_; }
  bool fully_consumed() const { return next_ == transcript_.exchanges.size(); }
  // One line per command that did not match ("exchange 3: expected 80a8..., got 80a8...").
  const std::vector<std::string>& mismatches() const { return mismatches_; }

 private:
  Transcript transcript_;
  std::size_t next_ = 0;
  std::vector<std::string> mismatches_;
};

// Passes everything to `inner` and keeps what was said, to save as a transcript.
class RecordingCard final : public hal::sim::ContactlessCard {
 public:
  RecordingCard(std::shared_ptr<hal::sim::ContactlessCard> inner, std::string about);

  hal::CardInfo info() const override { return inner_->info(); }
  Result<Bytes> respond(ByteView command_apdu) override;
  void on_deselect() override { inner_->on_deselect(); }

  const Transcript& transcript() const { return transcript_; }

 private:
  std::shared_ptr<hal::sim::ContactlessCard> inner_;
  Transcript transcript_;
};

}  // namespace faregate::simulator
