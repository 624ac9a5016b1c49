#include "simulator/network/process_network.h"

#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "simulator/network/validator_process.h"
#include "simulator/pn532/virtual_pn532.h"

namespace faregate::simulator {

namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr std::uint8_t kInListPassiveTarget = 0x4A;
constexpr int kMaxAttempts = 3;
constexpr std::size_t kMaxProblems = 20;

std::uint64_t to_number(std::string_view text) {
  std::uint64_t n = 0;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

std::string_view role_name(ValidatorKind kind) {
  switch (kind) {
    case ValidatorKind::kEntry: return "entry";
    case ValidatorKind::kExit: return "exit";
    case ValidatorKind::kOnboard: return "onboard";
  }
  return "entry";
}

// One validator and everything the runner keeps about it.
struct Lane {
  // kRetrying: a read failed and the rider took the card away to tap again; it goes back in
  // once the validator has seen the field empty.
  enum class State { kStarting, kIdle, kPresenting, kRetrying, kRemoving, kDead };
  const ValidatorSpec* spec = nullptr;
  std::unique_ptr<VirtualPn532> reader;
  std::unique_ptr<ChildProcess> process;
  std::ofstream log;
  State state = State::kStarting;
  std::deque<std::size_t> queue;  // plan taps released to this validator, in order
  std::size_t current = 0;        // the plan tap being presented
  SteadyClock::time_point since;  // when the current state began
  std::vector<hal::sim::GateEvent> gate;
  std::size_t polls_at_removal = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t watermark = 0;
  std::optional<int> exit_code;
  int start_attempts = 0;
};

class Player {
 public:
  Player(const NetworkPlan& plan, const std::vector<std::shared_ptr<hal::sim::ContactlessCard>>& cards,
         const ProcessPlayOptions& options)
      : plan_(plan), cards_(cards), options_(options), rider_next_(plan.riders.size(), 0) {
    result_.taps.resize(plan.taps.size());
  }

  Result<ProcessPlayResult> run() {
    const auto setup_start = SteadyClock::now();
    if (auto s = start_all(); !s) {
      stop_all();
      return std::unexpected(s.error());
    }
    result_.setup_seconds = std::chrono::duration<double>(SteadyClock::now() - setup_start).count();
    const auto play_start = SteadyClock::now();
    play(play_start);
    const auto end_start = SteadyClock::now();
    result_.play_seconds = std::chrono::duration<double>(end_start - play_start).count();
    wait_for_sync();
    stop_all();
    result_.end_seconds = std::chrono::duration<double>(SteadyClock::now() - end_start).count();
    result_.watermarks.clear();
    for (const auto& lane : lanes_) result_.watermarks.push_back(lane.watermark);
    return std::move(result_);
  }

 private:
  void problem(std::string text) {
    if (result_.problems.size() < kMaxProblems) result_.problems.push_back(std::move(text));
  }

  std::vector<std::string> arguments(const ValidatorSpec& spec, const std::filesystem::path& dir,
                                     const std::string& connstring) const {
    std::vector<std::string> args = {
        options_.validator_binary.string(), "--data-dir", dir.string(), "--device-id",
        spec.device_id, "--stop-id", spec.stop_id, "--role", std::string(role_name(spec.kind)),
        "--reader", connstring, "--ca-keys", ca_keys_file_.string(), "--backoffice",
        options_.backoffice_host + ":" + std::to_string(options_.backoffice_port),
        "--sync-interval-s", std::to_string(options_.sync_interval_s), "--batch-taps",
        std::to_string(options_.batch_taps), "--anti-passback-s",
        std::to_string(options_.anti_passback_s),
        // The virtual gate's actions are logged at debug level: the runner checks them.
        "--log-level", "debug"};
    if (!spec.route_id.empty()) {
      args.insert(args.end(), {"--route-id", spec.route_id});
    }
    if (options_.pki_dir.empty()) {
      args.push_back("--insecure-dev");
    } else {
      args.insert(args.end(), {"--tls-dir", (options_.pki_dir / "devices" / spec.device_id).string()});
    }
    return args;
  }

  Status start_all() {
    std::error_code ec;
    std::filesystem::create_directories(options_.work_dir / "validators", ec);
    ca_keys_file_ = options_.work_dir / "validators" / "simulator_ca_keys.json";
    if (auto s = write_simulator_ca_keys(ca_keys_file_); !s) return s;

    lanes_.resize(plan_.validators.size());
    for (std::size_t v = 0; v < plan_.validators.size(); ++v) {
      Lane& lane = lanes_[v];
      lane.spec = &plan_.validators[v];
      const auto dir = options_.work_dir / "validators" / lane.spec->device_id;
      if (auto s = provision_validator_dir(dir, options_.key_seed, options_.pki_dir,
                                           lane.spec->device_id);
          !s) {
        return s;
      }
      auto reader = VirtualPn532::start();
      if (!reader) return with_context(reader.error(), "virtual PN532 of " + lane.spec->device_id);
      lane.reader = std::move(*reader);
      lane.log.open(dir / "validator.log");
    }
    // A few at a time: a herd of validators opening their readers at once on a busy machine
    // makes libnfc time out (the virtual PN532's answers come late) and such a validator exits,
    // as a real one does when its reader does not answer at start-up; it is started again.
    constexpr std::size_t kStartBatch = 16;
    constexpr int kStartAttempts = 3;
    for (std::size_t first = 0; first < lanes_.size(); first += kStartBatch) {
      const std::size_t last = std::min(first + kStartBatch, lanes_.size());
      for (std::size_t v = first; v < last; ++v) {
        if (auto s = spawn(lanes_[v]); !s) return s;
      }
      const auto deadline = SteadyClock::now() + options_.start_timeout;
      for (;;) {
        std::size_t starting = 0;
        for (std::size_t v = first; v < last; ++v) {
          Lane& lane = lanes_[v];
          if (lane.state == Lane::State::kDead) {
            if (lane.start_attempts >= kStartAttempts) {
              return make_error(ErrorCode::kUnavailable,
                                lane.spec->device_id + " exited at start-up " +
                                    std::to_string(kStartAttempts) + " times (see " +
                                    log_path(lane).string() + ")");
            }
            if (auto s = spawn(lane); !s) return s;
          }
          starting += lane.state == Lane::State::kStarting;
        }
        if (starting == 0) break;
        if (SteadyClock::now() > deadline) {
          for (std::size_t v = first; v < last; ++v) {
            if (lanes_[v].state == Lane::State::kStarting) {
              return make_error(ErrorCode::kTimeout,
                                lanes_[v].spec->device_id + " did not start within " +
                                    std::to_string(options_.start_timeout.count()) + " ms (see " +
                                    log_path(lanes_[v]).string() + ")");
            }
          }
        }
        pump(100ms);
      }
    }
    return {};
  }

  std::filesystem::path log_path(const Lane& lane) const {
    return options_.work_dir / "validators" / lane.spec->device_id / "validator.log";
  }

  Status spawn(Lane& lane) {
    if (lane.process) {
      (void)lane.process->kill_and_wait();
      lane.process.reset();
      lane.log << "-- the validator exited at start-up; starting it again\n";
    }
    const auto dir = options_.work_dir / "validators" / lane.spec->device_id;
    auto child = ChildProcess::spawn(arguments(*lane.spec, dir, lane.reader->connstring()));
    if (!child) return with_context(child.error(), "starting " + lane.spec->device_id);
    lane.process = std::move(*child);
    lane.state = Lane::State::kStarting;
    lane.since = SteadyClock::now();
    ++lane.start_attempts;
    return {};
  }

  // Waits up to `timeout` for output from any validator and handles every line.
  void pump(std::chrono::milliseconds timeout) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> owners;
    for (std::size_t v = 0; v < lanes_.size(); ++v) {
      if (lanes_[v].process && !lanes_[v].process->eof()) {
        fds.push_back({lanes_[v].process->fd(), POLLIN, 0});
        owners.push_back(v);
      }
    }
    if (fds.empty()) return;
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
    if (ready <= 0) return;
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Lane& lane = lanes_[owners[i]];
      lines.clear();
      lane.process->read_lines(lines);
      for (const auto& line : lines) handle_line(lane, line);
      if (lane.process->eof()) on_exit(lane);
    }
  }

  void on_exit(Lane& lane) {
    if (lane.state == Lane::State::kDead) return;
    if (stopping_ || lane.state == Lane::State::kStarting) {
      lane.state = Lane::State::kDead;
      return;
    }
    problem(lane.spec->device_id + " exited in the middle of the day");
    if (lane.state == Lane::State::kPresenting || lane.state == Lane::State::kRetrying) give_up(lane);
    lane.state = Lane::State::kDead;
  }

  void handle_line(Lane& lane, const std::string& line) {
    lane.log << line << '\n';
    auto parsed = parse_log_line(line);
    if (!parsed) return;
    const std::string_view msg = parsed->message;
    const std::string& id = lane.spec->device_id;
    if (lane.state == Lane::State::kStarting && msg.starts_with("validator " + id + " at ")) {
      lane.state = Lane::State::kIdle;
      lane.since = SteadyClock::now();
      return;
    }
    if (msg.starts_with("gate: ")) {
      if (auto event = parse_gate_echo(msg.substr(6)); event && lane.state == Lane::State::kPresenting) {
        lane.gate.push_back(std::move(*event));
      }
      return;
    }
    if (msg.starts_with("tap device=")) {
      on_tap(lane, msg);
      return;
    }
    if (msg.starts_with("sync: sent ")) {
      ++result_.sync_sessions;
      const auto at = msg.rfind("through seq ");
      if (at != std::string_view::npos) lane.watermark = to_number(msg.substr(at + 12));
      return;
    }
    if (msg.starts_with("sync failed")) {
      ++result_.sync_failures;
      return;
    }
    const bool failed_read = msg.starts_with("card left " + id) ||
                             msg.starts_with("tap on " + id + " not completed") ||
                             msg.starts_with("reader: ");
    if (failed_read && lane.state == Lane::State::kPresenting) {
      // Nothing journaled: as the display asks, the rider takes the card away and taps again.
      tap_again(lane, msg);
    }
    if (parsed->level == "error" || parsed->level == "critical" || msg.starts_with("reader: ")) {
      problem(id + ": " + std::string(msg));
    }
  }

  void on_tap(Lane& lane, std::string_view msg) {
    const std::uint64_t seq = to_number(log_field(msg, "seq"));
    if (log_field(msg, "device") != lane.spec->device_id || seq == 0) return;
    lane.last_seq = std::max(lane.last_seq, seq);
    if (lane.state != Lane::State::kPresenting) {
      // A tap nobody presented: the journal check reports it as an unclaimed record.
      problem(fmt::format("{}: a tap (seq {}) while no card was presented", lane.spec->device_id, seq));
      return;
    }
    TapResult& tap = result_.taps[lane.current];
    const bool accepted = log_field(msg, "decision") == "accept";
    const std::string_view reason = log_field(msg, "reason");
    const RiderSpec& rider = plan_.riders[plan_.taps[lane.current].rider];
    if (!accepted && is_tap_again_reason(reason) && rider.expect_reason != reason &&
        tap.attempts < kMaxAttempts) {
      // A read that went wrong on the way (on a busy machine, an answer of the virtual reader
      // that came too late): journaled as a deny that asks the rider to tap again, who does.
      tap.retried_seqs.push_back(seq);
      tap.retried_gate_ok = tap.retried_gate_ok && gate_did(lane.gate, false, reason);
      tap_again(lane, msg);
      return;
    }
    tap.seq = seq;
    tap.accepted = accepted;
    tap.gate_ok = gate_did(lane.gate, tap.accepted, reason);
    tap.gate_opened = std::any_of(lane.gate.begin(), lane.gate.end(), [](const auto& e) {
      return e.kind == hal::sim::GateEvent::Kind::kOpen;
    });
    tap.processing_us = static_cast<std::uint32_t>(to_number(log_field(msg, "us")));
    finish(lane);
  }

  // The rider takes the card away to tap again once the validator has seen the field empty (it
  // halted the card, and would not see it again without that), up to kMaxAttempts
  // presentations in all.
  void tap_again(Lane& lane, std::string_view why) {
    TapResult& tap = result_.taps[lane.current];
    if (tap.attempts >= kMaxAttempts) {
      problem(fmt::format("{}: gave up a tap after {} failed reads: {}", lane.spec->device_id,
                          tap.attempts, why));
      give_up(lane);
      return;
    }
    lane.reader->remove_card();
    lane.polls_at_removal = lane.reader->chip().command_count(kInListPassiveTarget);
    lane.state = Lane::State::kRetrying;
    lane.since = SteadyClock::now();
    lane.gate.clear();
  }

  // The rider walks away (tap done or given up): card out of the field.
  void finish(Lane& lane) {
    const TapEvent& event = plan_.taps[lane.current];
    ++rider_next_[event.rider];
    ++done_;
    lane.reader->remove_card();
    lane.polls_at_removal = lane.reader->chip().command_count(kInListPassiveTarget);
    lane.state = Lane::State::kRemoving;
    lane.since = SteadyClock::now();
    lane.gate.clear();
  }

  void give_up(Lane& lane) {
    result_.taps[lane.current].seq = 0;
    finish(lane);
  }

  bool due(std::size_t tap, SteadyClock::time_point play_start) const {
    if (options_.acceleration <= 0) return true;
    const double offset_ms =
        static_cast<double>(plan_.taps[tap].time_utc_ms - options_.day_start_utc_ms) /
        options_.acceleration;
    return SteadyClock::now() - play_start >= std::chrono::duration<double, std::milli>(offset_ms);
  }

  void play(SteadyClock::time_point play_start) {
    std::size_t released = 0;
    const std::size_t total = plan_.taps.size();
    while (done_ < total) {
      while (released < total && due(released, play_start)) {
        lanes_[plan_.taps[released].validator].queue.push_back(released);
        ++released;
      }
      const auto now = SteadyClock::now();
      bool busy_removing = false;
      for (Lane& lane : lanes_) {
        if (lane.state == Lane::State::kRemoving) {
          // The validator has polled an empty field twice since the card left: it has finished
          // with that card and waits for the next one.
          if (lane.reader->chip().command_count(kInListPassiveTarget) >= lane.polls_at_removal + 2) {
            lane.state = Lane::State::kIdle;
          } else if (now - lane.since > options_.tap_timeout) {
            problem(lane.spec->device_id + " did not notice the card leave");
            lane.state = Lane::State::kIdle;
          } else {
            busy_removing = true;
          }
        }
        if (lane.state == Lane::State::kRetrying) {
          if (lane.reader->chip().command_count(kInListPassiveTarget) >= lane.polls_at_removal + 2) {
            ++result_.taps[lane.current].attempts;
            lane.reader->place_card(cards_[plan_.taps[lane.current].rider]);
            lane.state = Lane::State::kPresenting;
            lane.since = now;
          } else if (now - lane.since > options_.tap_timeout) {
            problem(lane.spec->device_id + " did not come back after a failed read");
            give_up(lane);
          } else {
            busy_removing = true;
          }
        }
        if (lane.state == Lane::State::kPresenting && now - lane.since > options_.tap_timeout) {
          problem(fmt::format("{}: no decision within {} ms", lane.spec->device_id,
                              options_.tap_timeout.count()));
          give_up(lane);
          busy_removing = true;
        }
        if (lane.queue.empty()) continue;
        const std::size_t next = lane.queue.front();
        const TapEvent& event = plan_.taps[next];
        if (rider_next_[event.rider] != event.rider_tap) continue;  // still busy elsewhere
        if (lane.state == Lane::State::kDead) {
          // Its validator is gone: the rider's tap there is lost (reported), the day goes on.
          lane.queue.pop_front();
          result_.taps[next].attempts = 1;
          ++rider_next_[event.rider];
          ++done_;
          continue;
        }
        if (lane.state != Lane::State::kIdle) continue;
        lane.queue.pop_front();
        lane.current = next;
        lane.gate.clear();
        result_.taps[next].attempts = 1;
        lane.reader->place_card(cards_[event.rider]);
        lane.state = Lane::State::kPresenting;
        lane.since = now;
      }
      if (options_.on_progress) options_.on_progress(done_, total);
      pump(busy_removing || released < total ? 2ms : 20ms);
    }
  }

  // Validators sync on their own; give them time to send their last taps.
  void wait_for_sync() {
    const auto deadline = SteadyClock::now() + options_.final_sync_timeout;
    while (SteadyClock::now() < deadline) {
      bool all = true;
      for (const Lane& lane : lanes_) {
        if (lane.state != Lane::State::kDead && lane.watermark < lane.last_seq) all = false;
      }
      if (all) return;
      pump(100ms);
    }
    problem("not every validator synced its last taps before the end of the day");
  }

  void stop_all() {
    stopping_ = true;
    for (Lane& lane : lanes_) {
      if (lane.process) lane.process->terminate();
    }
    // Drain their output (a full pipe would block a validator's final log lines) until each
    // has closed it, then reap them; a validator that hangs is killed after the timeout.
    const auto deadline = SteadyClock::now() + options_.final_sync_timeout;
    for (;;) {
      bool open = false;
      for (const Lane& lane : lanes_) open = open || (lane.process && !lane.process->eof());
      if (!open || SteadyClock::now() > deadline) break;
      pump(100ms);
    }
    for (Lane& lane : lanes_) {
      if (!lane.process) continue;
      const int code = lane.process->kill_and_wait();
      if (code != 0) problem(fmt::format("{} exited with code {}", lane.spec->device_id, code));
      lane.process.reset();
      lane.log.flush();
    }
    for (Lane& lane : lanes_) lane.reader.reset();
  }

  const NetworkPlan& plan_;
  const std::vector<std::shared_ptr<hal::sim::ContactlessCard>>& cards_;
  const ProcessPlayOptions& options_;
  std::vector<Lane> lanes_;
  std::vector<std::uint32_t> rider_next_;
  std::size_t done_ = 0;
  bool stopping_ = false;
  std::filesystem::path ca_keys_file_;
  ProcessPlayResult result_;
};

}  // namespace

Result<ProcessPlayResult> play_with_processes(
    const NetworkPlan& plan, const std::vector<std::shared_ptr<hal::sim::ContactlessCard>>& cards,
    const ProcessPlayOptions& options) {
  if (cards.size() != plan.riders.size()) {
    return make_error(ErrorCode::kInvalidArgument, "one card per rider is needed");
  }
  // About six descriptors per validator (its pty pair, the reader's stop pipe, the process's
  // output pipe, its log file): hundreds of validators need more than the usual soft limit.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  Player player(plan, cards, options);
  return player.run();
}

}  // namespace faregate::simulator
