#pragma once
// The host end of a virtual PN532, for tests that speak raw frames without libnfc: opens the
// pty slave as libnfc does, writes bytes, and reads with bounded waits (never a bare sleep).

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

#include "common/bytes.h"
#include "simulator/pn532/pn532_frame.h"
#include "simulator/pn532/unique_fd.h"

namespace faregate::testing {

class PtyHost {
 public:
  explicit PtyHost(const std::string& path)
      : fd_(::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) {
    if (fd_.valid()) {
      struct termios tio {};
      if (::tcgetattr(fd_.get(), &tio) == 0) {
        ::cfmakeraw(&tio);
        ::tcsetattr(fd_.get(), TCSANOW, &tio);
      }
    }
  }

  bool is_open() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }

  bool write_bytes(const Bytes& bytes) {
    return ::write(fd_.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  }

  // Writes an information frame with TFI D4.
  bool send_command(const Bytes& command) {
    auto frame = simulator::pn532_information_frame(simulator::kPn532HostToChip, command);
    return frame && write_bytes(*frame);
  }

  // Reads exactly `n` bytes, or fewer if the wait ends or the line fails.
  Bytes read_bytes(std::size_t n,
                   std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    Bytes out;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (out.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      std::uint8_t buffer[512];
      const ssize_t got = ::read(fd_.get(), buffer, std::min(sizeof(buffer), n - out.size()));
      if (got <= 0) break;
      out.insert(out.end(), buffer, buffer + got);
    }
    return out;
  }

  // The next frame the chip sends, or nullopt if none comes within `wait`.
  std::optional<simulator::Pn532Frame> read_frame(
      std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      if (auto frame = parser_.next()) return frame;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      Bytes got = read_bytes(1, left);
      if (got.empty()) return std::nullopt;
      parser_.feed(got);
    }
  }

  // Sends a command and returns the chip's response body (response code + parameters) after
  // checking that an ACK came first; nullopt on anything else.
  std::optional<Bytes> transact(const Bytes& command) {
    if (!send_command(command)) return std::nullopt;
    auto ack = read_frame();
    if (!ack || ack->kind != simulator::Pn532FrameKind::kAck) return std::nullopt;
    auto response = read_frame();
    if (!response || response->kind != simulator::Pn532FrameKind::kInformation ||
        response->tfi != simulator::kPn532ChipToHost) {
      return std::nullopt;
    }
    return response->data;
  }

  // Waits up to `wait` for the line to report hang-up or end of file.
  bool sees_hangup(std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    if ((p.revents & (POLLHUP | POLLERR)) != 0) return true;
    std::uint8_t b;
    return ::read(fd_.get(), &b, 1) <= 0;
  }

 private:
  simulator::UniqueFd fd_;
  simulator::Pn532FrameParser parser_;
};

}  // namespace faregate::testing
