#pragma once
// `faregate-sim pn532`: runs a virtual PN532 on a pty until told to stop, so that libnfc's own
// tools, the validator daemon or a test can drive it from another process.
//
// Protocol on stdin/stdout, one line each way:
//   stdout, first line:  pn532_uart:/dev/pts/N        (flushed before anything is read)
//   stdin:               place KIND | remove | quit
//   stdout, per command: ok | error: <reason>
// End of input keeps the reader running until SIGINT or SIGTERM; `quit` stops at once.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "hal/sim/contactless_card.h"
#include "simulator/pn532/virtual_pn532.h"

namespace faregate::simulator {

// Makes a virtual card of a named kind ("visa", "agency", ...); nullptr if the kind is unknown.
using Pn532CardFactory =
    std::function<std::shared_ptr<hal::sim::ContactlessCard>(std::string_view kind)>;

// Exit codes of run_pn532_command and run_pn532_session.
inline constexpr int kPn532ExitOk = 0;           // quit, signal, or stop_fd
inline constexpr int kPn532ExitCannotStart = 1;  // no pty (the reason goes to stdout as "error:")
inline constexpr int kPn532ExitBadCard = 2;      // initial_kind names no card

// Serves on stdin/stdout. An empty `initial_kind` starts with an empty field.
// Requires: called before the process starts other threads (SIGINT and SIGTERM are blocked and
// read through a signalfd, which only works if no other thread takes them).
int run_pn532_command(Pn532CardFactory make_card, std::string initial_kind);

// The same session on arbitrary descriptors, for tests: commands are read from `input_fd`,
// lines written to `output_fd`; the session also ends when `stop_fd` becomes readable. With
// stop_fd < 0 nothing else could end it, so end of input does.
struct Pn532SessionIo {
  int input_fd = 0;
  int output_fd = 1;
  int stop_fd = -1;
};
int run_pn532_session(const Pn532SessionIo& io, const Pn532CardFactory& make_card,
                      const std::string& initial_kind, VirtualPn532Options options = {});

}  // namespace faregate::simulator
