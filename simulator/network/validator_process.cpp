#include "simulator/network/validator_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include "common/sealed_box.h"
#include "hal/linux/file_key_store.h"
#include "simulator/cards/simulator_pki.h"
#include "simulator/network/backoffice_process.h"
#include "simulator/network/simulated_keys.h"

namespace faregate::simulator {

Status provision_validator_dir(const std::filesystem::path& dir, std::uint64_t key_seed,
                               const std::filesystem::path& pki_dir, const std::string& device_id) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());
  if (!std::filesystem::exists(dir / "card_token.key", ec)) {
    if (auto s = hal::linux_os::write_key_file(dir / "card_token.key",
                                               simulated_card_token_key(key_seed));
        !s) {
      return s;
    }
  }
  if (!std::filesystem::exists(dir / "sealing_public.pem", ec)) {
    auto sealing = simulated_sealing_private_key(key_seed);
    if (!sealing) return std::unexpected(sealing.error());
    auto pem = sealing->public_key().to_pem();
    if (!pem) return std::unexpected(pem.error());
    std::ofstream out(dir / "sealing_public.pem");
    out << *pem;
    if (!out) return make_error(ErrorCode::kIo, "cannot write " + (dir / "sealing_public.pem").string());
  }
  if (!pki_dir.empty()) {
    auto tls = provision_device_tls(pki_dir, device_id);
    if (!tls) return with_context(tls.error(), "TLS credentials of " + device_id);
  }
  return {};
}

Status write_simulator_ca_keys(const std::filesystem::path& file) {
  auto json = simulator_ca_keys_json();
  if (!json) return std::unexpected(json.error());
  std::ofstream out(file);
  out << *json;
  if (!out) return make_error(ErrorCode::kIo, "cannot write " + file.string());
  return {};
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(std::vector<std::string> args) {
  if (args.empty()) return make_error(ErrorCode::kInvalidArgument, "no program to start");
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return make_error(ErrorCode::kIo, "pipe failed");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return make_error(ErrorCode::kIo, std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec: the parent has threads.
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    static const char kFailed[] = "cannot start the program\n";
    (void)!::write(STDERR_FILENO, kFailed, sizeof(kFailed) - 1);
    ::_exit(127);
  }
  ::close(out[1]);
  const int flags = ::fcntl(out[0], F_GETFL);
  ::fcntl(out[0], F_SETFL, flags | O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out[0]));
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    (void)wait_blocking();
  }
  if (fd_ >= 0) ::close(fd_);
}

void ChildProcess::read_lines(std::vector<std::string>& lines) {
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof(buf));
    if (n > 0) {
      partial_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) eof_ = true;
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  std::size_t start = 0;
  for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.emplace_back(partial_, start, nl - start);
  }
  partial_.erase(0, start);
  if (eof_ && !partial_.empty()) {
    lines.push_back(std::move(partial_));
    partial_.clear();
  }
}

void ChildProcess::wait_lines(std::vector<std::string>& lines, int timeout_ms) {
  if (eof_) return;
  pollfd pfd{fd_, POLLIN, 0};
  if (::poll(&pfd, 1, timeout_ms) > 0) read_lines(lines);
}

void ChildProcess::terminate() {
  if (pid_ > 0) ::kill(pid_, SIGTERM);
}

std::optional<int> ChildProcess::try_wait() {
  if (pid_ <= 0) return exit_code_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  pid_ = -1;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return exit_code_;
}

int ChildProcess::kill_and_wait() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
  return wait_blocking();
}

int ChildProcess::wait_or_kill(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<std::string> ignored;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto code = try_wait()) return *code;
    // Keep the pipe drained, so that a child writing its last lines is not blocked.
    if (eof_) {
      pollfd none{-1, 0, 0};
      ::poll(&none, 0, 10);
    } else {
      wait_lines(ignored, 10);
      ignored.clear();
    }
  }
  return kill_and_wait();
}

int ChildProcess::wait_blocking() {
  if (pid_ <= 0) return exit_code_.value_or(-1);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return *exit_code_;
}

std::optional<LogLine> parse_log_line(std::string_view line) {
  const auto space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto level_start = line.find(' ', space + 1);
  const auto colon = line.find(": ", space + 1);
  if (level_start == std::string_view::npos || colon == std::string_view::npos ||
      colon < level_start) {
    return std::nullopt;
  }
  return LogLine{line.substr(level_start + 1, colon - level_start - 1), line.substr(colon + 2)};
}

std::string_view log_field(std::string_view message, std::string_view key) {
  if (key.empty()) return {};
  for (std::size_t at = message.find(key); at != std::string_view::npos;
       at = message.find(key, at + 1)) {
    const std::size_t eq = at + key.size();
    if ((at == 0 || message[at - 1] == ' ') && eq < message.size() && message[eq] == '=') {
      const auto end = message.find(' ', eq + 1);
      return message.substr(eq + 1, end == std::string_view::npos ? std::string_view::npos
                                                                   : end - eq - 1);
    }
  }
  return {};
}

}  // namespace faregate::simulator
