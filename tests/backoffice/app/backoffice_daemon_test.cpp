// faregate-backoffice as a parent process sees it: the "listening" line, a real sync over mutual
// TLS with credentials from the faregate-keys code (or plain TCP with --insecure-dev), clean exit
// on SIGTERM/SIGINT, exit code 1 on bad flags or missing credentials. Waits are bounded polls on
// the child's stdout pipe; nothing sleeps.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "backoffice/store/sqlite_tap_store.h"
#include "common/tls/tls_context.h"
#include "tests/backoffice/backoffice_test_support.h"
#include "tests/backoffice/sync_test_client.h"
#include "tools/keys/pki_directory.h"

using faregate::testing::make_taps;
using faregate::testing::ScratchDir;
using faregate::testing::SyncTestClient;
using namespace std::chrono_literals;

namespace {

class Daemon {
 public:
  explicit Daemon(std::vector<std::string> args) {
    args.insert(args.begin(), FAREGATE_BACKOFFICE_BINARY);
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~Daemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Reads stdout until a full line or end of stream, within the timeout.
  std::string read_line(std::chrono::milliseconds timeout = 10s) {
    read_until([&] { return stdout_.find('\n') != std::string::npos; }, timeout);
    const auto end = stdout_.find('\n');
    if (end == std::string::npos) return std::exchange(stdout_, "");
    std::string line = stdout_.substr(0, end);
    stdout_.erase(0, end + 1);
    return line;
  }

  // Waits for the child to exit (its stdout reaching end of stream), then returns its exit code;
  // -1 if it did not exit within the timeout.
  int wait_exit(std::chrono::milliseconds timeout = 10s) {
    if (!read_until([] { return false; }, timeout)) return -1;
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  void signal(int number) { ::kill(pid_, number); }
  // Whatever the daemon wrote to stdout after the lines already read.
  const std::string& rest_of_stdout() const { return stdout_; }

 private:
  // Returns true at end of stream, false on timeout or when done() holds.
  template <typename Done>
  bool read_until(Done done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (eof_) return true;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd pfd{out_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[512];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) {
        eof_ = true;
      } else {
        stdout_.append(buf, static_cast<std::size_t>(n));
      }
    }
    return false;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string stdout_;
  bool eof_ = false;
};

// As an operator would: init-ca, issue-backoffice into DATA_DIR/tls, issue-device per validator.
struct Provisioned {
  explicit Provisioned(const std::filesystem::path& root, const std::filesystem::path& data_dir)
      : drbg(faregate::crypto::Drbg::deterministic(11)),
        pki(std::move(*faregate::keys::PkiDirectory::init(root / "pki", "Daemon test CA", "",
                                                           30, now(), drbg))) {
    REQUIRE(pki.issue_backoffice(data_dir / "tls", "faregate-backoffice", 30, now(), drbg));
  }
  std::shared_ptr<const faregate::tls::ClientContext> device(const std::filesystem::path& root,
                                                             const std::string& id) {
    REQUIRE(pki.issue_device(root / id, id, 30, now(), drbg));
    auto context = faregate::tls::ClientContext::load(faregate::tls::client_files_in(root / id));
    REQUIRE(context);
    return *context;
  }
  static std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }
  faregate::crypto::Drbg drbg;
  faregate::keys::PkiDirectory pki;
};

std::uint16_t port_of(const std::string& line) {
  REQUIRE(line.rfind("listening 127.0.0.1:", 0) == 0);
  return static_cast<std::uint16_t>(std::stoul(line.substr(line.rfind(':') + 1)));
}

}  // namespace

TEST_CASE("the daemon announces its port and stores a sync over TLS and exits 0 on SIGTERM and SIGINT") {
  ScratchDir dir;
  const auto data_dir = dir.path() / "not" / "yet" / "there";
  Provisioned keys(dir.path(), data_dir);
  auto gate1 = keys.device(dir.path(), "gate-1");
  {
    Daemon daemon({"--data-dir", data_dir.string(), "--port", "0", "--log-level", "warn"});
    const auto port = port_of(daemon.read_line());
    CHECK(port != 0);
    SyncTestClient client;
    REQUIRE(client.connect_tls(port, gate1));
    REQUIRE(client.say_hello("gate-1"));
    auto ack = client.send_batch(make_taps("gate-1", 1, 5));
    REQUIRE(ack);
    CHECK(ack->stored_through_seq() == 5);
    daemon.signal(SIGTERM);
    CHECK(daemon.wait_exit() == 0);
    CHECK(daemon.rest_of_stdout().empty());  // exactly one line on stdout
  }
  {
    // A restart on the same data directory remembers the watermark.
    Daemon daemon({"--data-dir", data_dir.string(), "--port", "0", "--log-level", "warn"});
    const auto port = port_of(daemon.read_line());
    SyncTestClient client;
    REQUIRE(client.connect_tls(port, gate1));
    auto hello = client.say_hello("gate-1");
    REQUIRE(hello);
    CHECK(hello->stored_through_seq() == 5);
    daemon.signal(SIGINT);
    CHECK(daemon.wait_exit() == 0);
  }
  auto store = faregate::store::SqliteTapStore::open(data_dir / "taps.db");
  REQUIRE(store);
  CHECK((*store)->tap_count().value() == 5);
}

TEST_CASE("the daemon serves plain TCP only with --insecure-dev") {
  ScratchDir dir;
  const auto data_dir = dir.path() / "bo";
  {
    Daemon refused({"--data-dir", data_dir.string(), "--port", "0", "--log-level", "off"});
    CHECK(refused.wait_exit() == 1);  // no credentials in DATA_DIR/tls
    CHECK(refused.rest_of_stdout().find("listening") == std::string::npos);
  }
  Daemon daemon({"--data-dir", data_dir.string(), "--port", "0", "--log-level", "warn",
                 "--insecure-dev"});
  const auto port = port_of(daemon.read_line());
  SyncTestClient client;
  REQUIRE(client.connect(port));
  REQUIRE(client.say_hello("gate-1"));
  auto ack = client.send_batch(make_taps("gate-1", 1, 3));
  REQUIRE(ack);
  CHECK(ack->stored_through_seq() == 3);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit() == 0);
}

TEST_CASE("the daemon exits with code 1 on bad flags or an unusable data directory") {
  ScratchDir dir;
  const auto file = dir.path() / "a-file";
  std::ofstream(file) << "not a directory";
  const auto bad_store_dir = dir.path() / "bad-store";
  std::filesystem::create_directories(bad_store_dir);
  std::ofstream(bad_store_dir / "taps.db") << std::string(4096, 'x');
  const std::string ok_dir = (dir.path() / "ok").string();

  const std::string insecure = "--insecure-dev";
  const std::vector<std::vector<std::string>> cases = {
      {},                                                                 // --data-dir missing
      {"--data-dir", ok_dir, "--port", "70000", insecure},                // port out of range
      {"--data-dir", ok_dir, "--no-such-flag", insecure},                 // unknown flag
      {"--data-dir", ok_dir, "--log-level", "loud", insecure},            // unknown level
      {"--data-dir", ok_dir, "--max-connections", "0", insecure},         // below the minimum
      {"--data-dir", ok_dir, "--listen", "not-an-address", insecure},     // cannot listen
      {"--data-dir", file.string(), "--port", "0", insecure},             // data dir is a file
      {"--data-dir", bad_store_dir.string(), "--port", "0", insecure},    // taps.db is not a database
      {"--data-dir", ok_dir, "--port", "0", insecure, "--tls-dir", ok_dir},  // TLS off and on
      {"--data-dir", ok_dir, "--port", "0", "--tls-dir", file.string()},  // no credentials there
  };
  for (const auto& args : cases) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    INFO("args: " << shown);
    Daemon daemon(args);
    CHECK(daemon.wait_exit() == 1);
    CHECK(daemon.rest_of_stdout().find("listening") == std::string::npos);
  }
}

TEST_CASE("the daemon's --help shows examples and exits 0") {
  Daemon daemon({"--help"});
  CHECK(daemon.wait_exit() == 0);
  CHECK(daemon.rest_of_stdout().find("--data-dir") != std::string::npos);
  CHECK(daemon.rest_of_stdout().find("Examples:") != std::string::npos);
  CHECK(daemon.rest_of_stdout().find("Exit codes") != std::string::npos);
}

TEST_CASE("deny list and config set with the daemon's commands are pushed on the next ack") {
  ScratchDir dir;
  const auto data_dir = dir.path() / "bo";
  Provisioned keys(dir.path(), data_dir);
  auto gate1 = keys.device(dir.path(), "gate-1");
  const std::string token(64, 'a');
  {
    Daemon add({"--data-dir", data_dir.string(), "deny-list", "add", token});
    CHECK(add.wait_exit() == 0);
    CHECK(add.rest_of_stdout().find("deny list at version 1") != std::string::npos);
    Daemon set({"--data-dir", data_dir.string(), "config", "set", "--anti-passback-s", "75"});
    CHECK(set.wait_exit() == 0);
    Daemon bad({"--data-dir", data_dir.string(), "deny-list", "add", "not-hex"});
    CHECK(bad.wait_exit() == 1);
  }
  Daemon daemon({"--data-dir", data_dir.string(), "--port", "0", "--log-level", "warn"});
  const auto port = port_of(daemon.read_line());
  SyncTestClient client;
  REQUIRE(client.connect_tls(port, gate1));
  REQUIRE(client.say_hello("gate-1"));
  faregate::v1::ClientFrame health;
  health.mutable_health()->set_deny_list_version(0);
  health.mutable_health()->set_config_version(0);
  REQUIRE(client.send(health));
  auto ack = client.send_batch({});  // nothing to send: the empty batch collects the pushes
  REQUIRE(ack);
  REQUIRE(ack->has_deny_list());
  CHECK(ack->deny_list().from_version() == 0);  // a delta from the empty list
  CHECK(ack->deny_list().to_version() == 1);
  REQUIRE(ack->deny_list().added_size() == 1);
  CHECK(ack->deny_list().added(0) == std::string(32, static_cast<char>(0xaa)));
  REQUIRE(ack->has_config());
  CHECK(ack->config().anti_passback_seconds() == 75);
  // Now up to date: the next ack carries nothing.
  auto next = client.send_batch(make_taps("gate-1", 1, 2));
  REQUIRE(next);
  CHECK_FALSE(next->has_deny_list());
  CHECK_FALSE(next->has_config());
  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit() == 0);
}
