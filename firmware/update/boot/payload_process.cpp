#include "firmware/update/boot/payload_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

extern char** environ;

namespace faregate::update {

namespace {

Status write_all(int fd, ByteView data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(ErrorCode::kIo, fmt::format("write: {}", std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
  return {};
}

ProcessExit decode(int status) {
  if (WIFSIGNALED(status)) return {true, WTERMSIG(status)};
  return {false, WEXITSTATUS(status)};
}

// A sealed memfd holding the payload: nobody, this process included, can change it any more.
// Not close-on-exec: a "#!" script is read by its interpreter through /dev/fd/N.
Result<int> sealed_memfd(ByteView payload) {
  const int fd = ::memfd_create("faregate-validator", MFD_ALLOW_SEALING);
  if (fd < 0) {
    return make_error(ErrorCode::kIo, fmt::format("memfd_create: {}", std::strerror(errno)));
  }
  if (auto ok = write_all(fd, payload); !ok) {
    ::close(fd);
    return std::unexpected(ok.error());
  }
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    const int saved = errno;
    ::close(fd);
    return make_error(ErrorCode::kIo, fmt::format("sealing the payload: {}", std::strerror(saved)));
  }
  return fd;
}

// Forks and executes: with `exec_fd` >= 0 through fexecve, else `path` through execve. Reports
// an exec failure through a close-on-exec pipe, so that the caller gets the errno, not a child
// that exits 127 for an unknown reason.
Result<pid_t> fork_exec(int exec_fd, const std::filesystem::path& path,
                        const std::vector<std::string>& argv_strings,
                        const std::vector<std::string>& env_strings, int& exec_errno) {
  exec_errno = 0;
  std::vector<char*> argv;
  for (const auto& a : argv_strings) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return make_error(ErrorCode::kIo, fmt::format("pipe: {}", std::strerror(errno)));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int saved = errno;
    ::close(report[0]);
    ::close(report[1]);
    return make_error(ErrorCode::kIo, fmt::format("fork: {}", std::strerror(saved)));
  }
  if (pid == 0) {
    ::close(report[0]);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (exec_fd >= 0) {
      ::fexecve(exec_fd, argv.data(), envp.data());
    } else {
      ::execve(path.c_str(), argv.data(), envp.data());
    }
    const int err = errno;
    (void)!::write(report[1], &err, sizeof(err));
    ::_exit(127);
  }
  ::close(report[1]);
  int err = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof(err))) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    exec_errno = err;
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("cannot execute the payload: {}", std::strerror(err)));
  }
  return pid;
}

}  // namespace

std::string ProcessExit::describe() const {
  if (signaled) return fmt::format("killed by signal {} ({})", code, ::strsignal(code));
  return fmt::format("exited with code {}", code);
}

Result<PayloadProcess> PayloadProcess::start(ByteView payload, const std::string& name,
                                             const std::vector<std::string>& args,
                                             const std::vector<std::string>& extra_env,
                                             const std::filesystem::path& fallback_file) {
  std::vector<std::string> argv{name};
  argv.insert(argv.end(), args.begin(), args.end());
  // The launcher's own environment, minus any variable that `extra_env` sets.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto key = entry.substr(0, entry.find('=') + 1);
    const bool overridden = std::any_of(extra_env.begin(), extra_env.end(),
                                        [&](const std::string& x) { return x.starts_with(key); });
    if (!overridden) env.emplace_back(entry);
  }
  env.insert(env.end(), extra_env.begin(), extra_env.end());

  auto memfd = sealed_memfd(payload);
  if (memfd) {
    int exec_errno = 0;
    auto pid = fork_exec(*memfd, {}, argv, env, exec_errno);
    if (pid) return PayloadProcess(*pid, *memfd);
    ::close(*memfd);
    // Only a refusal to execute from memory is worth the file fallback; anything else (a payload
    // that is not a program at all) would fail the same way from a file.
    if (exec_errno != EACCES && exec_errno != EPERM) return std::unexpected(pid.error());
  }
  const int fd = ::open(fallback_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
  if (fd < 0) {
    return make_error(ErrorCode::kIo, fmt::format("cannot create {}: {}", fallback_file.string(),
                                                  std::strerror(errno)));
  }
  auto written = write_all(fd, payload);
  ::close(fd);
  if (!written) return std::unexpected(written.error());
  int exec_errno = 0;
  auto pid = fork_exec(-1, fallback_file, argv, env, exec_errno);
  if (!pid) return std::unexpected(pid.error());
  return PayloadProcess(*pid, -1);
}

PayloadProcess::PayloadProcess(PayloadProcess&& other) noexcept
    : pid_(other.pid_), memfd_(other.memfd_), exit_(other.exit_) {
  other.pid_ = -1;
  other.memfd_ = -1;
}

PayloadProcess::~PayloadProcess() {
  if (pid_ > 0 && !exit_) {
    ::kill(pid_, SIGKILL);
    (void)wait();
  }
  if (memfd_ >= 0) ::close(memfd_);
}

std::optional<ProcessExit> PayloadProcess::poll() {
  if (exit_) return exit_;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) exit_ = decode(status);
  return exit_;
}

ProcessExit PayloadProcess::wait() {
  if (exit_) return *exit_;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  exit_ = r == pid_ ? decode(status) : ProcessExit{true, SIGKILL};
  return *exit_;
}

void PayloadProcess::signal(int signal_number) const {
  if (pid_ > 0 && !exit_) ::kill(pid_, signal_number);
}

}  // namespace faregate::update
