#pragma once
// update::QuietRestart: how a validator that installed an image over the air restarts into it
// without cutting a tap short. The sync thread requests the restart; the card thread brackets
// every tap with begin_tap()/end_tap() and, between taps, asks take_if_quiet(): only when a
// restart is requested and no tap is in progress does it answer, and from then on no new tap
// begins. The validator then exits with kRestartExitCode (health.h) and faregate-boot starts the
// pending image in trial mode.
//
// Thread safety: every method may be called from any thread.

#include <mutex>
#include <optional>
#include <string>

namespace faregate::update {

class QuietRestart {
 public:
  // A restart is wanted (e.g. "firmware 1.5.0 installed"). The first reason is kept.
  void request(std::string reason);
  bool requested() const;

  // A tap starts. Returns false, and starts nothing, once take_if_quiet() has answered: the
  // validator is on its way down.
  bool begin_tap();
  // The tap that begin_tap() started is over (journaled, gate actioned, card gone).
  void end_tap();

  // The reason, when a restart is requested and no tap is in progress; nullopt otherwise. Once it
  // has answered, begin_tap() refuses.
  std::optional<std::string> take_if_quiet();

  // RAII for begin_tap()/end_tap(); ok() is begin_tap()'s answer.
  class TapScope {
   public:
    explicit TapScope(QuietRestart& restart) : restart_(restart), ok_(restart.begin_tap()) {}
    ~TapScope() {
      if (ok_) restart_.end_tap();
    }
    TapScope(const TapScope&) = delete;
    TapScope& operator=(const TapScope&) = delete;
    bool ok() const { return ok_; }

   private:
    QuietRestart& restart_;
    bool ok_;
  };

 private:
  mutable std::mutex mutex_;
  std::optional<std::string> reason_;
  unsigned taps_in_progress_ = 0;
  bool restarting_ = false;
};

}  // namespace faregate::update
