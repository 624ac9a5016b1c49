#pragma once
// A virtual PN532 on a pseudo-terminal: the real libnfc (pn532_uart driver) opens
// "pn532_uart:/dev/pts/N" and drives the Pn532Chip model behind it as it would drive a PN532
// breakout board on a serial port. One thread per instance reads the host's frames and answers
// each command at once with ACK + response: libnfc flushes its input before every command, so a
// late answer would only corrupt the next exchange ("answer immediately or never").

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/error.h"
#include "simulator/pn532/pn532_chip.h"
#include "simulator/pn532/pn532_frame.h"
#include "simulator/pn532/unique_fd.h"

namespace faregate::simulator {

struct VirtualPn532Options {
  Pn532ChipOptions chip;
  // If not empty, a symbolic link to the pty is made here (replacing an existing link) and the
  // connstring names it, so that a virtual reader that is stopped and started again keeps its
  // name and a host can reconnect to it. Removed again by stop().
  std::string link_path;
  // How long the line may stay quiet in the middle of a frame before the partial frame is
  // dropped (a UART's inter-byte timeout), so that a truncated frame cannot swallow the next one.
  std::chrono::milliseconds inter_byte_timeout{100};
  // Called on the serving thread with one line per frame: "host d44a0100", "chip d54b00",
  // "host ack", "chip error-frame", ... Optional.
  std::function<void(std::string_view)> trace;
};

class VirtualPn532 {
 public:
  struct Stats {
    std::size_t commands = 0;        // command frames answered
    std::size_t aborts = 0;          // ACK frames from the host
    std::size_t nacks = 0;           // NACK frames from the host (last response sent again)
    std::size_t invalid_frames = 0;  // frames dropped for bad checksums or lengths
    std::size_t skipped_bytes = 0;   // bytes outside frames (wake-up, postambles, noise)
    std::size_t ignored = 0;         // frames dropped while unresponsive
  };

  // Opens a pty, sets it raw, and starts serving.
  // Errors: kIo if no pty can be had or the thread cannot start; kIo if link_path cannot be made.
  static Result<std::unique_ptr<VirtualPn532>> start(VirtualPn532Options options = {});

  // Stops serving and closes the pty.
  ~VirtualPn532();
  VirtualPn532(const VirtualPn532&) = delete;
  VirtualPn532& operator=(const VirtualPn532&) = delete;

  // "pn532_uart:/dev/pts/N" (or "pn532_uart:<link_path>"), for nfc_open() or LIBNFC_DEVICE.
  std::string connstring() const;
  // The pty slave, "/dev/pts/N".
  const std::string& device_path() const { return device_path_; }

  // The chip model; cards are placed and removed through it (thread-safe).
  Pn532Chip& chip() { return chip_; }
  void place_card(std::shared_ptr<hal::sim::ContactlessCard> card) {
    chip_.place_card(std::move(card));
  }
  void remove_card() { chip_.remove_card(); }

  // The reader vanishes: the serving thread ends and the pty is closed, so that a host that has
  // it open gets EIO on its next read or write (as when a USB serial adapter is pulled).
  // Idempotent; also done by the destructor.
  void stop();
  bool serving() const { return serving_.load(); }

  // Fault injection: a hung chip. While set, frames are read and dropped without any answer, so
  // the host runs into its own timeouts; the pty stays open. Thread-safe.
  void set_unresponsive(bool unresponsive) { unresponsive_ = unresponsive; }
  // Fault injection: a noisy serial line. The next `count` response frames go out with a wrong
  // data checksum (DCS), as a flipped bit on the wire would leave them. Thread-safe.
  void garble_next_responses(int count) { garble_remaining_ = count; }

  Stats stats() const;

 private:
  VirtualPn532(VirtualPn532Options options, UniqueFd master, UniqueFd slave, UniqueFd stop_read,
               UniqueFd stop_write, std::string device_path);
  void serve();
  void handle_frame(const Pn532Frame& frame);
  void send(const Bytes& bytes);
  void trace(std::string_view direction, std::string_view what);

  VirtualPn532Options options_;
  Pn532Chip chip_;
  UniqueFd master_;
  // Held open so that the pty survives a host closing its end (with no slave open, reads on the
  // master fail with EIO).
  UniqueFd slave_;
  UniqueFd stop_read_;
  UniqueFd stop_write_;
  std::string device_path_;
  std::string link_target_;  // link_path_ if this instance made the link

  std::mutex stop_mutex_;
  std::thread thread_;
  std::atomic<bool> serving_{false};
  std::atomic<bool> unresponsive_{false};
  std::atomic<int> garble_remaining_{0};

  mutable std::mutex stats_mutex_;
  Stats stats_;
  Bytes last_response_;  // for a NACK; serving thread only
};

}  // namespace faregate::simulator
