#include "simulator/pn532/pn532_command.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <vector>

#include "simulator/pn532/unique_fd.h"

namespace faregate::simulator {

namespace {

void write_line(int fd, std::string line) {
  line += '\n';
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;  // the reader of our output went away; keep serving the pty regardless
    }
  }
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

enum class LineResult { kContinue, kQuit };

LineResult run_line(std::string_view line, VirtualPn532& pn532, const Pn532CardFactory& make_card,
                    int output_fd) {
  line = trim(line);
  if (line.empty()) return LineResult::kContinue;
  const auto space = line.find_first_of(" \t");
  const std::string_view word = line.substr(0, space);
  const std::string_view argument =
      space == std::string_view::npos ? std::string_view{} : trim(line.substr(space));

  if (word == "place") {
    if (argument.empty()) {
      write_line(output_fd, "error: place needs a card kind");
      return LineResult::kContinue;
    }
    auto card = make_card ? make_card(argument) : nullptr;
    if (!card) {
      write_line(output_fd, "error: unknown card kind '" + std::string(argument) + "'");
      return LineResult::kContinue;
    }
    pn532.place_card(std::move(card));
    write_line(output_fd, "ok");
    return LineResult::kContinue;
  }
  if (word == "remove" && argument.empty()) {
    pn532.remove_card();
    write_line(output_fd, "ok");
    return LineResult::kContinue;
  }
  if (word == "quit" && argument.empty()) {
    write_line(output_fd, "ok");
    return LineResult::kQuit;
  }
  write_line(output_fd, "error: unknown command '" + std::string(line) +
                            "' (commands: place KIND, remove, quit)");
  return LineResult::kContinue;
}

}  // namespace

int run_pn532_session(const Pn532SessionIo& io, const Pn532CardFactory& make_card,
                      const std::string& initial_kind, VirtualPn532Options options) {
  std::shared_ptr<hal::sim::ContactlessCard> first_card;
  if (!initial_kind.empty()) {
    first_card = make_card ? make_card(initial_kind) : nullptr;
    if (!first_card) {
      write_line(io.output_fd, "error: unknown card kind '" + initial_kind + "'");
      return kPn532ExitBadCard;
    }
  }
  auto started = VirtualPn532::start(std::move(options));
  if (!started) {
    write_line(io.output_fd, "error: " + started.error().describe());
    return kPn532ExitCannotStart;
  }
  VirtualPn532& pn532 = **started;
  if (first_card) pn532.place_card(std::move(first_card));
  write_line(io.output_fd, pn532.connstring());

  std::string pending;
  bool input_open = true;
  std::array<char, 512> chunk{};
  while (true) {
    std::vector<pollfd> fds;
    if (input_open) fds.push_back({io.input_fd, POLLIN, 0});
    if (io.stop_fd >= 0) fds.push_back({io.stop_fd, POLLIN, 0});
    // Without a stop descriptor nothing but the input can end the session.
    if (fds.empty()) return kPn532ExitOk;
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      write_line(io.output_fd, std::string("error: poll: ") + std::strerror(errno));
      return kPn532ExitOk;
    }
    for (const pollfd& p : fds) {
      if (p.fd == io.stop_fd && p.revents != 0) return kPn532ExitOk;
    }
    if (!input_open || fds[0].revents == 0) continue;

    const ssize_t n = ::read(io.input_fd, chunk.data(), chunk.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      // End of input: a last line without newline still counts; then keep serving.
      input_open = false;
      if (!pending.empty() &&
          run_line(pending, pn532, make_card, io.output_fd) == LineResult::kQuit) {
        return kPn532ExitOk;
      }
      pending.clear();
      continue;
    }
    pending.append(chunk.data(), static_cast<std::size_t>(n));
    std::size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      if (run_line(line, pn532, make_card, io.output_fd) == LineResult::kQuit) return kPn532ExitOk;
    }
  }
}

int run_pn532_command(Pn532CardFactory make_card, std::string initial_kind) {
  // SIGINT/SIGTERM are taken through a signalfd so that they end the session cleanly (closing
  // the pty, removing nothing by surprise) instead of killing the process mid-answer. The
  // serving thread inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigset_t previous;
  if (::pthread_sigmask(SIG_BLOCK, &stop_signals, &previous) != 0) {
    std::cout << "error: cannot block SIGINT/SIGTERM" << std::endl;
    return kPn532ExitCannotStart;
  }
  int rc = kPn532ExitCannotStart;
  {
    UniqueFd signal_fd(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
    std::cout.flush();
    if (!signal_fd.valid()) {
      write_line(1, std::string("error: signalfd: ") + std::strerror(errno));
    } else {
      rc = run_pn532_session(Pn532SessionIo{0, 1, signal_fd.get()}, make_card, initial_kind);
      // Consume the signal that ended the session, so that unblocking does not re-raise it.
      signalfd_siginfo info{};
      while (::read(signal_fd.get(), &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
      }
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return rc;
}

}  // namespace faregate::simulator
