// The `faregate-sim pn532` session: connstring first, then place/remove/quit commands answered
// with ok/error lines, while the pty serves a host.
#include "simulator/pn532/pn532_command.h"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <string>

#include "tests/simulator/pn532/pty_host.h"
#include "tests/simulator/pn532/test_card.h"

using namespace std::chrono_literals;
using faregate::Bytes;
using faregate::simulator::Pn532CardFactory;
using faregate::simulator::Pn532SessionIo;
using faregate::simulator::UniqueFd;
using faregate::testing::PtyHost;
using faregate::testing::TestCard;

namespace {

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
  Pipe() {
    std::array<int, 2> fds{-1, -1};
    REQUIRE(::pipe(fds.data()) == 0);
    read_end = UniqueFd(fds[0]);
    write_end = UniqueFd(fds[1]);
  }
};

Pn532CardFactory factory() {
  return [](std::string_view kind) -> std::shared_ptr<faregate::hal::sim::ContactlessCard> {
    if (kind == "test") return std::make_shared<TestCard>();
    return nullptr;
  };
}

// Reads one line from `fd`, waiting at most `wait` in all.
std::optional<std::string> read_line(int fd, std::chrono::milliseconds wait = 3000ms) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char c = 0;
    if (::read(fd, &c, 1) != 1) return std::nullopt;
    if (c == '\n') return line;
    line += c;
  }
}

void send_line(int fd, const std::string& line) {
  const std::string with_newline = line + "\n";
  REQUIRE(::write(fd, with_newline.data(), with_newline.size()) ==
          static_cast<ssize_t>(with_newline.size()));
}

// A session running on its own thread with pipes for stdin, stdout and the stop signal.
struct Session {
  Pipe input;
  Pipe output;
  Pipe stop;
  std::future<int> result;

  explicit Session(std::string initial_kind) {
    Pn532SessionIo io{input.read_end.get(), output.write_end.get(), stop.read_end.get()};
    result = std::async(std::launch::async, [io, initial_kind] {
      return faregate::simulator::run_pn532_session(io, factory(), initial_kind);
    });
  }
  ~Session() {
    // Never leave the thread running: stop it whatever the test did.
    if (result.valid()) {
      [[maybe_unused]] auto n = ::write(stop.write_end.get(), "x", 1);
      result.wait();
    }
  }
  int finish() {
    REQUIRE(result.wait_for(3s) == std::future_status::ready);
    return result.get();
  }
};

const Bytes kListTypeA{0x4A, 0x01, 0x00};

}  // namespace

TEST_CASE("the session prints the connstring first and serves the initial card") {
  Session session("test");
  auto connstring = read_line(session.output.read_end.get());
  REQUIRE(connstring);
  REQUIRE(connstring->rfind("pn532_uart:/dev/pts/", 0) == 0);
  PtyHost host(connstring->substr(std::string("pn532_uart:").size()));
  auto listed = host.transact(kListTypeA);
  REQUIRE(listed);
  CHECK((*listed)[1] == 0x01);

  send_line(session.input.write_end.get(), "quit");
  CHECK(read_line(session.output.read_end.get()) == "ok");
  CHECK(session.finish() == 0);
}

TEST_CASE("place and remove change the field and mistakes get error lines") {
  Session session("");
  const int out = session.output.read_end.get();
  const int in = session.input.write_end.get();
  auto connstring = read_line(out);
  REQUIRE(connstring);
  PtyHost host(connstring->substr(std::string("pn532_uart:").size()));
  CHECK(host.transact(kListTypeA) == Bytes{0x4B, 0x00});

  send_line(in, "place test");
  CHECK(read_line(out) == "ok");
  CHECK((*host.transact(kListTypeA))[1] == 0x01);

  send_line(in, "  remove  ");
  CHECK(read_line(out) == "ok");
  CHECK(host.transact(kListTypeA) == Bytes{0x4B, 0x00});

  send_line(in, "place nonsense");
  CHECK(read_line(out) == "error: unknown card kind 'nonsense'");
  send_line(in, "place");
  CHECK(read_line(out) == "error: place needs a card kind");
  send_line(in, "dance");
  auto unknown = read_line(out);
  REQUIRE(unknown);
  CHECK(unknown->rfind("error: unknown command 'dance'", 0) == 0);
  send_line(in, "");  // ignored: the next answer belongs to quit
  send_line(in, "quit");
  CHECK(read_line(out) == "ok");
  CHECK(session.finish() == 0);
}

TEST_CASE("an unknown initial card kind ends the session with exit code 2") {
  Session session("nonsense");
  CHECK(read_line(session.output.read_end.get()) == "error: unknown card kind 'nonsense'");
  CHECK(session.finish() == faregate::simulator::kPn532ExitBadCard);
}

TEST_CASE("end of input keeps the reader serving until the stop signal") {
  Session session("test");
  auto connstring = read_line(session.output.read_end.get());
  REQUIRE(connstring);
  session.input.write_end.reset();  // EOF
  PtyHost host(connstring->substr(std::string("pn532_uart:").size()));
  CHECK((*host.transact(kListTypeA))[1] == 0x01);
  CHECK(session.result.wait_for(0ms) == std::future_status::timeout);
  REQUIRE(::write(session.stop.write_end.get(), "x", 1) == 1);
  CHECK(session.finish() == 0);
  CHECK(host.sees_hangup());
}
