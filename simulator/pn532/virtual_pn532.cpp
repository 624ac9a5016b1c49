#include "simulator/pn532/virtual_pn532.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>

namespace faregate::simulator {

namespace {

// How long a write may wait for a host that does not read. The pty buffer holds several
// kilobytes, so this only triggers when nobody has read for many commands; the answer is then
// stale anyway (libnfc flushes its input before each command).
constexpr int kWriteStallMs = 200;

std::string errno_text(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

Result<UniqueFd> open_master() {
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master.valid()) return make_error(ErrorCode::kIo, errno_text("posix_openpt"));
  if (::grantpt(master.get()) != 0) return make_error(ErrorCode::kIo, errno_text("grantpt"));
  if (::unlockpt(master.get()) != 0) return make_error(ErrorCode::kIo, errno_text("unlockpt"));
  const int flags = ::fcntl(master.get(), F_GETFL);
  if (flags < 0 || ::fcntl(master.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return make_error(ErrorCode::kIo, errno_text("fcntl O_NONBLOCK"));
  }
  return master;
}

// Replaces a symbolic link (or nothing) at `link_path` by one to `target`; refuses to replace
// anything that is not a link.
Status make_link(const std::string& link_path, const std::string& target) {
  struct stat st {};
  if (::lstat(link_path.c_str(), &st) == 0) {
    if (!S_ISLNK(st.st_mode)) {
      return make_error(ErrorCode::kIo, link_path + " exists and is not a symbolic link");
    }
    if (::unlink(link_path.c_str()) != 0)
      return make_error(ErrorCode::kIo, errno_text("unlink " + link_path));
  }
  if (::symlink(target.c_str(), link_path.c_str()) != 0) {
    return make_error(ErrorCode::kIo, errno_text("symlink " + link_path));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<VirtualPn532>> VirtualPn532::start(VirtualPn532Options options) {
  auto master = open_master();
  if (!master) return std::unexpected(master.error());

  std::array<char, 128> name{};
  if (::ptsname_r(master->get(), name.data(), name.size()) != 0) {
    return make_error(ErrorCode::kIo, errno_text("ptsname_r"));
  }
  std::string device_path(name.data());

  UniqueFd slave(::open(device_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave.valid()) return make_error(ErrorCode::kIo, errno_text("open " + device_path));
  // Raw from the start: no echo, no line discipline, no CR/LF translation. libnfc sets its own
  // termios on open, but bytes must pass unchanged before that too.
  struct termios tio {};
  if (::tcgetattr(slave.get(), &tio) != 0)
    return make_error(ErrorCode::kIo, errno_text("tcgetattr"));
  ::cfmakeraw(&tio);
  if (::tcsetattr(slave.get(), TCSANOW, &tio) != 0) {
    return make_error(ErrorCode::kIo, errno_text("tcsetattr"));
  }

  std::array<int, 2> pipe_fds{-1, -1};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC | O_NONBLOCK) != 0) {
    return make_error(ErrorCode::kIo, errno_text("pipe2"));
  }
  UniqueFd stop_read(pipe_fds[0]);
  UniqueFd stop_write(pipe_fds[1]);

  if (!options.link_path.empty()) {
    if (auto s = make_link(options.link_path, device_path); !s) return std::unexpected(s.error());
  }

  std::unique_ptr<VirtualPn532> pn532(
      new VirtualPn532(std::move(options), std::move(*master), std::move(slave),
                       std::move(stop_read), std::move(stop_write), std::move(device_path)));
  try {
    pn532->serving_ = true;
    pn532->thread_ = std::thread(&VirtualPn532::serve, pn532.get());
  } catch (const std::system_error& e) {
    pn532->serving_ = false;
    return make_error(ErrorCode::kIo, std::string("cannot start the PN532 thread: ") + e.what());
  }
  return pn532;
}

VirtualPn532::VirtualPn532(VirtualPn532Options options, UniqueFd master, UniqueFd slave,
                           UniqueFd stop_read, UniqueFd stop_write, std::string device_path)
    : options_(std::move(options)),
      chip_(options_.chip),
      master_(std::move(master)),
      slave_(std::move(slave)),
      stop_read_(std::move(stop_read)),
      stop_write_(std::move(stop_write)),
      device_path_(std::move(device_path)),
      link_target_(options_.link_path) {}

VirtualPn532::~VirtualPn532() { stop(); }

std::string VirtualPn532::connstring() const {
  return "pn532_uart:" + (options_.link_path.empty() ? device_path_ : options_.link_path);
}

void VirtualPn532::stop() {
  std::lock_guard lock(stop_mutex_);
  if (thread_.joinable()) {
    const std::uint8_t wake = 1;
    // The pipe cannot be full: only stop() writes to it, once.
    [[maybe_unused]] const auto written = ::write(stop_write_.get(), &wake, 1);
    thread_.join();
  }
  serving_ = false;
  master_.reset();
  slave_.reset();
  if (!link_target_.empty()) {
    // Only remove the link if it still names this pty: a newer instance may have taken it over.
    std::array<char, 256> target{};
    const ssize_t n = ::readlink(link_target_.c_str(), target.data(), target.size() - 1);
    if (n > 0 && std::string(target.data(), static_cast<std::size_t>(n)) == device_path_) {
      ::unlink(link_target_.c_str());
    }
    link_target_.clear();
  }
}

VirtualPn532::Stats VirtualPn532::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

void VirtualPn532::trace(std::string_view direction, std::string_view what) {
  if (!options_.trace) return;
  std::string line(direction);
  line += ' ';
  line += what;
  options_.trace(line);
}

void VirtualPn532::serve() {
  Pn532FrameParser parser;
  std::array<std::uint8_t, 1024> buffer{};
  const int inter_byte_ms = static_cast<int>(options_.inter_byte_timeout.count());
  while (true) {
    std::array<pollfd, 2> fds{{{master_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}}};
    const int wait_ms = parser.has_partial_frame() ? inter_byte_ms : -1;
    const int n = ::poll(fds.data(), fds.size(), wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      trace("chip", errno_text("poll failed"));
      break;
    }
    if (fds[1].revents != 0) break;
    if (n == 0) {
      parser.drop_partial_frame();
    } else if ((fds[0].revents & POLLIN) != 0) {
      const ssize_t got = ::read(master_.get(), buffer.data(), buffer.size());
      if (got > 0) {
        parser.feed(ByteView(buffer.data(), static_cast<std::size_t>(got)));
      } else if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
        continue;
      } else {
        // We hold a slave descriptor, so this only happens if the pty itself broke.
        trace("chip", errno_text("pty read failed"));
        break;
      }
    } else if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
      trace("chip", "pty hung up");
      break;
    }
    // Statistics are brought up to date before each answer goes out, so that a host that has
    // read the answer also sees them.
    auto update_stats = [&] {
      std::lock_guard lock(stats_mutex_);
      stats_.invalid_frames = parser.invalid_frames();
      stats_.skipped_bytes = parser.skipped_bytes();
    };
    while (auto frame = parser.next()) {
      update_stats();
      handle_frame(*frame);
    }
    update_stats();
  }
  serving_ = false;
}

void VirtualPn532::handle_frame(const Pn532Frame& frame) {
  if (unresponsive_ && frame.kind != Pn532FrameKind::kInvalid) {
    trace("host", "frame ignored (unresponsive)");
    std::lock_guard lock(stats_mutex_);
    ++stats_.ignored;
    return;
  }
  switch (frame.kind) {
    case Pn532FrameKind::kAck: {
      // "Abort the command in progress". Every command is answered before the next byte is read,
      // so there is never one in progress: nothing to do.
      trace("host", "ack");
      std::lock_guard lock(stats_mutex_);
      ++stats_.aborts;
      return;
    }
    case Pn532FrameKind::kNack: {
      trace("host", "nack");
      {
        std::lock_guard lock(stats_mutex_);
        ++stats_.nacks;
      }
      if (!last_response_.empty()) send(last_response_);
      return;
    }
    case Pn532FrameKind::kInvalid:
      trace("host", "invalid frame");
      return;
    case Pn532FrameKind::kError:
    case Pn532FrameKind::kInformation:
      break;
  }
  if (frame.kind != Pn532FrameKind::kInformation || frame.tfi != kPn532HostToChip) {
    // An error frame or a frame with the chip's own TFI is not a command: a real PN532 drops it.
    trace("host", "frame not addressed to the chip");
    return;
  }
  Bytes host_line{frame.tfi};
  host_line.insert(host_line.end(), frame.data.begin(), frame.data.end());
  trace("host", to_hex(host_line));

  const Pn532Reply reply = chip_.handle(frame.data);
  Bytes response = pn532_error_frame();
  if (reply.kind == Pn532Reply::Kind::kResponse) {
    auto built = pn532_information_frame(kPn532ChipToHost, reply.data);
    if (built) {
      response = std::move(*built);
      Bytes chip_line{kPn532ChipToHost};
      chip_line.insert(chip_line.end(), reply.data.begin(), reply.data.end());
      trace("chip", to_hex(chip_line));
    } else {
      trace("chip", "error-frame (" + built.error().message + ")");
    }
  } else {
    trace("chip", "error-frame");
  }
  // ACK and response leave together: libnfc reads the 6 ACK bytes, then the response frame,
  // with nothing allowed in between.
  Bytes out = pn532_ack_frame();
  out.insert(out.end(), response.begin(), response.end());
  last_response_ = std::move(response);
  if (garble_remaining_ > 0 && out.size() >= 2) {
    --garble_remaining_;
    out[out.size() - 2] ^= 0x01;  // the DCS byte, just before the postamble
    trace("chip", "response garbled (DCS flipped)");
  }
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.commands;
  }
  send(out);
}

void VirtualPn532::send(const Bytes& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(master_.get(), bytes.data() + done, bytes.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd out{master_.get(), POLLOUT, 0};
      if (::poll(&out, 1, kWriteStallMs) > 0) continue;
    }
    trace("chip", "answer dropped: the host does not read");
    return;
  }
}

}  // namespace faregate::simulator
