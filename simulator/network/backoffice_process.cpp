#include "simulator/network/backoffice_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>

#include "common/crypto.h"
#include "tools/keys/pki_directory.h"

namespace faregate::simulator {

namespace {

int wait_exit_code(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Throw-away keys: from system entropy, like the real tool.
Result<crypto::Drbg> pki_generator() {
  return crypto::Drbg::from_system_entropy("faregate-sim pki");
}

std::int64_t now_utc_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

std::filesystem::path simulated_pki_dir(const std::filesystem::path& backoffice_data_dir) {
  return backoffice_data_dir.parent_path() / "pki";
}

Status provision_backoffice_tls(const std::filesystem::path& pki_dir,
                                const std::filesystem::path& backoffice_data_dir) {
  auto drbg = pki_generator();
  if (!drbg) return std::unexpected(drbg.error());
  std::error_code ec;
  std::optional<keys::PkiDirectory> pki;
  if (std::filesystem::exists(pki_dir / keys::kCaCertificateFile, ec)) {
    auto opened = keys::PkiDirectory::open(pki_dir);
    if (!opened) return std::unexpected(opened.error());
    pki.emplace(std::move(*opened));
  } else {
    auto created = keys::PkiDirectory::init(pki_dir, "Simulated operator CA", "Faregate simulator",
                                            30, now_utc_seconds(), *drbg);
    if (!created) return std::unexpected(created.error());
    pki.emplace(std::move(*created));
  }
  const auto tls_dir = backoffice_data_dir / "tls";
  if (std::filesystem::exists(tls::server_files_in(tls_dir).certificate, ec)) return {};
  auto issued = pki->issue_backoffice(tls_dir, tls::kDefaultServerName, 30, now_utc_seconds(),
                                      *drbg);
  if (!issued) return std::unexpected(issued.error());
  return {};
}

Result<std::shared_ptr<const tls::ClientContext>> provision_device_tls(
    const std::filesystem::path& pki_dir, const std::string& device_id) {
  const auto device_dir = pki_dir / "devices" / device_id;
  const auto files = tls::client_files_in(device_dir);
  std::error_code ec;
  if (!std::filesystem::exists(files.certificate, ec)) {
    auto pki = keys::PkiDirectory::open(pki_dir);
    if (!pki) return std::unexpected(pki.error());
    auto drbg = pki_generator();
    if (!drbg) return std::unexpected(drbg.error());
    auto issued = pki->issue_device(device_dir, device_id, 30, now_utc_seconds(), *drbg);
    if (!issued) return std::unexpected(issued.error());
  }
  return tls::ClientContext::load(files);
}

Result<BackofficeProcess> BackofficeProcess::start(const std::filesystem::path& binary,
                                                   const std::filesystem::path& data_dir,
                                                   std::uint16_t port,
                                                   std::vector<std::string> extra_args,
                                                   std::chrono::milliseconds timeout) {
  if (std::find(extra_args.begin(), extra_args.end(), "--insecure-dev") == extra_args.end()) {
    if (auto s = provision_backoffice_tls(simulated_pki_dir(data_dir), data_dir); !s) {
      return with_context(s.error(), "provisioning the simulated back office's TLS credentials");
    }
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return make_error(ErrorCode::kIo, "pipe failed");
  std::vector<std::string> args = {binary.string(), "--data-dir", data_dir.string(), "--port",
                                   std::to_string(port)};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) return make_error(ErrorCode::kIo, "fork failed");
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out[1]);

  // Read the first line, bounded in time, without blocking past the deadline.
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{out[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[256];
    const ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  BackofficeProcess process(pid, 0);
  const std::string prefix = "listening ";
  const auto colon = line.rfind(':');
  if (line.rfind(prefix, 0) != 0 || colon == std::string::npos) {
    process.kill_hard();
    return make_error(ErrorCode::kUnavailable,
                      "back office did not start (first line: '" +
                          line.substr(0, line.find('\n')) + "')");
  }
  process.port_ = static_cast<std::uint16_t>(std::strtoul(line.c_str() + colon + 1, nullptr, 10));
  return process;
}

BackofficeProcess::BackofficeProcess(BackofficeProcess&& other) noexcept
    : pid_(other.pid_), port_(other.port_) {
  other.pid_ = -1;
}

BackofficeProcess& BackofficeProcess::operator=(BackofficeProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) (void)stop();
    pid_ = other.pid_;
    port_ = other.port_;
    other.pid_ = -1;
  }
  return *this;
}

BackofficeProcess::~BackofficeProcess() {
  if (pid_ > 0) (void)stop();
}

Result<int> BackofficeProcess::stop() {
  if (pid_ <= 0) return make_error(ErrorCode::kInvalidArgument, "back office not running");
  ::kill(pid_, SIGTERM);
  // Give it time for a clean shutdown, then make sure it is gone.
  for (int i = 0; i < 500; ++i) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    ::usleep(10'000);
  }
  ::kill(pid_, SIGKILL);
  const int code = wait_exit_code(pid_);
  pid_ = -1;
  return code;
}

void BackofficeProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  (void)wait_exit_code(pid_);
  pid_ = -1;
}

Result<std::filesystem::path> find_backoffice_binary() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto dir = self.parent_path();
    for (const auto& candidate :
         {dir / "faregate-backoffice", dir / "../../backoffice/app/faregate-backoffice",
          dir / "../backoffice/app/faregate-backoffice"}) {
      if (std::filesystem::exists(candidate, ec)) return std::filesystem::canonical(candidate, ec);
    }
  }
  if (const char* path = std::getenv("PATH")) {
    std::string p(path);
    std::size_t start = 0;
    while (start <= p.size()) {
      const std::size_t end = std::min(p.find(':', start), p.size());
      const auto candidate = std::filesystem::path(p.substr(start, end - start)) / "faregate-backoffice";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
  }
  return make_error(ErrorCode::kNotFound,
                    "faregate-backoffice not found beside this program or on PATH");
}

}  // namespace faregate::simulator
