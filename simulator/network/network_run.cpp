#include "simulator/network/network_run.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "backoffice/store/sqlite_tap_store.h"
#include "common/crypto.h"
#include "firmware/tap/card_token.h"
#include "hal/sim/manual_clock.h"
#include "hal/sim/static_key_store.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/cards/emv_card.h"
#include "simulator/network/backoffice_process.h"
#include "simulator/network/journal_reader.h"
#include "simulator/network/process_network.h"
#include "simulator/network/rider_plan.h"
#include "simulator/network/tap_result.h"
#include "simulator/network/virtual_validator.h"

namespace faregate::simulator {

namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::size_t kMaxProblems = 20;
using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Progress lines: at every tenth of the work, and at least every `every` of wall time.
class Progress {
 public:
  Progress(const RunOptions& options, std::string what, std::size_t total)
      : options_(options), what_(std::move(what)), total_(total), start_(SteadyClock::now()),
        last_(start_) {}

  void update(std::size_t done) {
    if (!options_.progress || total_ == 0) return;
    const auto now = SteadyClock::now();
    const bool tenth = done * 10 >= next_tenth_ * total_;
    if (!tenth && now - last_ < options_.progress_every) return;
    while (done * 10 >= next_tenth_ * total_ && next_tenth_ <= 10) ++next_tenth_;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    const double left = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
    options_.progress(fmt::format("{}: {}/{} ({:.0f}%) in {:.1f} s, {:.0f}/s, about {:.0f} s left",
                                  what_, done, total_, 100.0 * static_cast<double>(done) /
                                                           static_cast<double>(total_),
                                  elapsed, rate, left));
  }

 private:
  const RunOptions& options_;
  std::string what_;
  std::size_t total_;
  SteadyClock::time_point start_;
  SteadyClock::time_point last_;
  std::size_t next_tenth_ = 1;
};

struct PlayResult {
  std::vector<TapResult> taps;
  std::vector<std::uint64_t> watermarks;
  std::uint64_t sync_sessions = 0;
  std::uint64_t sync_failures = 0;
  std::vector<std::string> problems;
  double setup_seconds = 0;
  double play_seconds = 0;
  double end_seconds = 0;
};

unsigned thread_count(const RunOptions& options) {
  return options.threads > 0 ? options.threads
                             : std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
}

void add_problem(std::vector<std::string>& problems, std::string text) {
  if (problems.size() < kMaxProblems) problems.push_back(std::move(text));
}

faregate::v1::ValidatorRole role_of(ValidatorKind kind) {
  switch (kind) {
    case ValidatorKind::kEntry: return faregate::v1::VALIDATOR_ROLE_ENTRY;
    case ValidatorKind::kExit: return faregate::v1::VALIDATOR_ROLE_EXIT;
    case ValidatorKind::kOnboard: return faregate::v1::VALIDATOR_ROLE_ONBOARD;
  }
  return faregate::v1::VALIDATOR_ROLE_ENTRY;
}

std::filesystem::path validator_dir(const RunOptions& options, const std::string& device_id) {
  return options.work_dir / "validators" / device_id;
}

// The in-process network: one VirtualValidator per plan validator, each on its own simulated
// clock that jumps to the time of the tap it is given. Taps run on a few worker threads: a
// validator serves one tap at a time and a rider makes one tap at a time, so taps at different
// validators by different riders may run at once, and each validator still sees its taps in
// time order (its journal, seqs and anti-passback are exactly those of a sequential run).
// Every `sync.every_minutes` all taps before that moment finish, then every validator syncs.
class InProcessPlayer {
 public:
  InProcessPlayer(const Scenario& scenario, const NetworkPlan& plan,
                  const std::vector<std::shared_ptr<hal::sim::ContactlessCard>>& cards,
                  const RunOptions& options, double acceleration)
      : scenario_(scenario), plan_(plan), cards_(cards), options_(options),
        acceleration_(acceleration) {}

  ~InProcessPlayer() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    work_ready_.notify_all();
    for (auto& t : workers_) t.join();
  }

  Result<PlayResult> run() {
    const auto setup_start = SteadyClock::now();
    result_.taps.resize(plan_.taps.size());
    auto keys = simulated_key_store(scenario_.seed);
    if (!keys) return std::unexpected(keys.error());
    keys_.emplace(std::move(*keys));
    auto ca_keys = simulated_ca_keys();
    if (!ca_keys) return std::unexpected(ca_keys.error());
    ca_keys_.emplace(std::move(*ca_keys));
    for (const auto& spec : plan_.validators) {
      clocks_.push_back(std::make_unique<hal::sim::ManualClock>(scenario_.day_start_utc_ms));
      const hal::sim::ManualClock& clock = *clocks_.back();
      tap::TapPipelineConfig pc;
      pc.device_id = spec.device_id;
      pc.stop_id = spec.stop_id;
      pc.role = role_of(spec.kind);
      pc.route_id = spec.route_id;
      pc.firmware_version = "sim";
      sync::SyncOptions so;
      so.host = options_.backoffice_host;
      so.port = options_.backoffice_port;
      so.batch_taps = static_cast<std::size_t>(scenario_.batch_taps);
      so.firmware_version = "sim";
      so.reader_status = [] { return std::string("ok"); };
      so.now_utc_ms = [&clock] { return clock.utc_ms(); };
      // Mutual TLS with a back office this run started (its PKI is in the work dir); an external
      // one (--backoffice HOST:PORT) has none there and is reached over plain TCP (--insecure-dev).
      if (std::filesystem::exists(options_.work_dir / "pki")) {
        auto tls = provision_device_tls(options_.work_dir / "pki", spec.device_id);
        if (!tls) return with_context(tls.error(), "TLS credentials of validator " + spec.device_id);
        so.tls = *tls;
      }
      auto v = VirtualValidator::create(validator_dir(options_, spec.device_id) / "journal.db", pc,
                                        so, clock, *keys_, *ca_keys_);
      if (!v) return with_context(v.error(), "validator " + spec.device_id);
      validators_.push_back(std::move(*v));
    }
    result_.watermarks.assign(validators_.size(), 0);
    lanes_.resize(validators_.size());
    rider_taps_.resize(plan_.riders.size());
    for (std::size_t i = 0; i < plan_.taps.size(); ++i) rider_taps_[plan_.taps[i].rider].push_back(i);
    rider_next_.assign(plan_.riders.size(), 0);
    const unsigned threads = thread_count(options_);
    for (unsigned t = 0; t < threads; ++t) workers_.emplace_back([this] { work(); });
    result_.setup_seconds = seconds_since(setup_start);

    play();
    return std::move(result_);
  }

 private:
  struct Job {
    bool sync = false;
    std::size_t validator = 0;
    std::size_t tap = 0;  // taps only
    int attempts = 1;     // syncs: how many tries
    // Filled by the worker.
    std::uint64_t sync_sessions = 0;
    std::uint64_t sync_failures = 0;
    std::vector<std::string> problems;
  };
  struct Lane {
    std::deque<std::size_t> queue;  // released taps, in time order
    bool busy = false;
  };

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mutex_);
        work_ready_.wait(lock, [&] { return quit_ || !jobs_.empty(); });
        if (quit_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      if (job.sync) {
        run_sync(job);
      } else {
        run_tap(job);
      }
      {
        std::lock_guard lock(mutex_);
        finished_.push_back(std::move(job));
      }
      work_done_.notify_one();
    }
  }

  void run_sync(Job& job) {
    VirtualValidator& validator = *validators_[job.validator];
    for (int attempt = 1; attempt <= job.attempts; ++attempt) {
      ++job.sync_sessions;
      auto r = validator.sync();
      if (r) {
        result_.watermarks[job.validator] = r->acknowledged_through;
        return;
      }
      ++job.sync_failures;
      if (attempt == job.attempts) {
        job.problems.push_back("sync of " + plan_.validators[job.validator].device_id +
                               " failed: " + r.error().describe());
      }
    }
  }

  void run_tap(Job& job) {
    const TapEvent& event = plan_.taps[job.tap];
    hal::sim::ManualClock& clock = *clocks_[job.validator];
    clock.advance_ms(std::max<std::int64_t>(event.time_utc_ms - clock.utc_ms(), 0));
    VirtualValidator& validator = *validators_[job.validator];
    TapResult& tap = result_.taps[job.tap];
    // A failed read (nothing journaled) makes the rider tap again, as at a real gate.
    for (int attempt = 1; attempt <= 3 && tap.seq == 0; ++attempt) {
      ++tap.attempts;
      validator.gate().clear();
      auto outcome = validator.present(cards_[event.rider]);
      if (!outcome) {
        job.problems.push_back(fmt::format("{}: a tap was not completed: {}",
                                           plan_.validators[job.validator].device_id,
                                           outcome.error().describe()));
        continue;
      }
      const auto& record = outcome->record;
      tap.seq = record.seq();
      tap.accepted = record.decision() == faregate::v1::DECISION_ACCEPT;
      tap.gate_ok = gate_did(validator.gate().events(), tap.accepted, record.reason());
      tap.gate_opened = validator.gate().times_opened() > 0;
      tap.processing_us = static_cast<std::uint32_t>(outcome->processing.count());
      tap.radio_model_us = static_cast<std::uint32_t>(validator.reader().air_time_this_tap().count());
    }
  }

  // Requires: mutex_ held.
  void submit(Job job) {
    jobs_.push_back(std::move(job));
    ++in_flight_;
    work_ready_.notify_one();
  }

  // Starts the front tap of lane v if the validator is free and the rider is ready for it.
  // Requires: mutex_ held.
  void try_start(std::size_t v) {
    Lane& lane = lanes_[v];
    if (lane.busy || lane.queue.empty()) return;
    const std::size_t next = lane.queue.front();
    const TapEvent& event = plan_.taps[next];
    if (rider_next_[event.rider] != event.rider_tap) return;
    lane.queue.pop_front();
    lane.busy = true;
    Job job;
    job.validator = v;
    job.tap = next;
    submit(std::move(job));
  }

  SteadyClock::time_point due_at(std::size_t tap, SteadyClock::time_point play_start) const {
    return play_start + std::chrono::duration_cast<SteadyClock::duration>(
                            std::chrono::duration<double, std::milli>(
                                static_cast<double>(plan_.taps[tap].time_utc_ms -
                                                    scenario_.day_start_utc_ms) /
                                acceleration_));
  }

  void collect(Job& job) {
    --in_flight_;
    result_.sync_sessions += job.sync_sessions;
    result_.sync_failures += job.sync_failures;
    for (auto& p : job.problems) add_problem(result_.problems, std::move(p));
    if (job.sync) return;
    ++done_;
    lanes_[job.validator].busy = false;
    const TapEvent& event = plan_.taps[job.tap];
    ++rider_next_[event.rider];
    try_start(job.validator);
    const auto& mine = rider_taps_[event.rider];
    if (rider_next_[event.rider] < mine.size()) {
      try_start(plan_.taps[mine[rider_next_[event.rider]]].validator);
    }
  }

  // Every validator syncs (at `at`, simulated), `attempts` tries each; waits for all.
  void sync_round(std::unique_lock<std::mutex>& lock, std::int64_t at, int attempts) {
    for (std::size_t v = 0; v < validators_.size(); ++v) {
      clocks_[v]->advance_ms(std::max<std::int64_t>(at - clocks_[v]->utc_ms(), 0));
      Job job;
      job.sync = true;
      job.validator = v;
      job.attempts = attempts;
      submit(std::move(job));
    }
    wait_all(lock);
  }

  void wait_all(std::unique_lock<std::mutex>& lock) {
    while (in_flight_ > 0) {
      work_done_.wait(lock, [&] { return !finished_.empty(); });
      while (!finished_.empty()) {
        Job job = std::move(finished_.front());
        finished_.pop_front();
        collect(job);
      }
    }
  }

  void play() {
    const auto play_start = SteadyClock::now();
    Progress progress(options_, "taps", plan_.taps.size());
    const std::size_t total = plan_.taps.size();
    const std::int64_t sync_every = scenario_.sync_every_minutes * kMinuteMs;
    std::int64_t next_sync = scenario_.day_start_utc_ms + sync_every;
    std::size_t released = 0;
    std::unique_lock lock(mutex_);
    while (done_ < total) {
      // Release the taps due before the next sync round.
      while (released < total && plan_.taps[released].time_utc_ms < next_sync &&
             (acceleration_ <= 0 || SteadyClock::now() >= due_at(released, play_start))) {
        const std::size_t v = plan_.taps[released].validator;
        lanes_[v].queue.push_back(released++);
        try_start(v);
      }
      if (in_flight_ == 0 && released < total && plan_.taps[released].time_utc_ms >= next_sync) {
        // Everything before the sync moment is done.
        sync_round(lock, next_sync, 1);
        next_sync += sync_every;
        continue;
      }
      if (in_flight_ == 0 && released < total) {
        // Paced: nothing to do until the next tap is due.
        lock.unlock();
        std::this_thread::sleep_until(due_at(released, play_start));
        lock.lock();
        continue;
      }
      const bool more_due = acceleration_ > 0 && released < total &&
                            plan_.taps[released].time_utc_ms < next_sync;
      if (more_due) {
        work_done_.wait_until(lock, due_at(released, play_start), [&] { return !finished_.empty(); });
      } else {
        work_done_.wait(lock, [&] { return !finished_.empty(); });
      }
      while (!finished_.empty()) {
        Job job = std::move(finished_.front());
        finished_.pop_front();
        collect(job);
      }
      lock.unlock();
      progress.update(done_);
      lock.lock();
    }
    result_.play_seconds = seconds_since(play_start);
    // End of day: every validator syncs until the back office holds everything (three tries).
    const auto end_start = SteadyClock::now();
    sync_round(lock, scenario_.day_end_utc_ms, 3);
    result_.end_seconds = seconds_since(end_start);
  }

  const Scenario& scenario_;
  const NetworkPlan& plan_;
  const std::vector<std::shared_ptr<hal::sim::ContactlessCard>>& cards_;
  const RunOptions& options_;
  const double acceleration_;
  std::optional<hal::sim::StaticKeyStore> keys_;
  std::optional<emv::oda::CaKeyTable> ca_keys_;
  std::vector<std::unique_ptr<hal::sim::ManualClock>> clocks_;
  std::vector<std::unique_ptr<VirtualValidator>> validators_;
  std::vector<Lane> lanes_;
  std::vector<std::vector<std::size_t>> rider_taps_;  // plan taps of each rider, in order
  std::vector<std::uint32_t> rider_next_;
  std::size_t done_ = 0;
  PlayResult result_;

  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  std::deque<Job> jobs_;
  std::deque<Job> finished_;
  std::size_t in_flight_ = 0;
  bool quit_ = false;
  std::vector<std::thread> workers_;
};

// Expected card token of every rider (raw 32 bytes), for cards whose PAN a validator reads.
Result<std::vector<std::string>> expected_tokens(
    const Scenario& scenario, const std::vector<std::shared_ptr<hal::sim::ContactlessCard>>& cards) {
  const Bytes key = simulated_card_token_key(scenario.seed);
  std::vector<std::string> tokens;
  tokens.reserve(cards.size());
  for (const auto& card : cards) {
    const auto* emv = dynamic_cast<const EmvCard*>(card.get());
    std::optional<emv::SensitivePan> pan;
    if (emv != nullptr) pan = emv::SensitivePan::from_digits(emv->profile().pan);
    if (!pan) {
      tokens.emplace_back();
      continue;
    }
    auto token = tap::card_token(key, *pan, emv->profile().psn.value_or(0));
    if (!token) return std::unexpected(token.error());
    tokens.emplace_back(reinterpret_cast<const char*>(token->data()), token->size());
  }
  return tokens;
}

}  // namespace

Result<std::filesystem::path> find_validator_binary() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto dir = self.parent_path();
    for (const auto& candidate :
         {dir / "faregate-validator", dir / "../../firmware/app/faregate-validator",
          dir / "../firmware/app/faregate-validator", dir / "../../../firmware/app/faregate-validator"}) {
      if (std::filesystem::exists(candidate, ec)) return std::filesystem::canonical(candidate, ec);
    }
  }
  if (const char* path = std::getenv("PATH")) {
    std::string p(path);
    std::size_t start = 0;
    while (start <= p.size()) {
      const std::size_t end = std::min(p.find(':', start), p.size());
      const auto candidate = std::filesystem::path(p.substr(start, end - start)) / "faregate-validator";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
  }
  return make_error(ErrorCode::kNotFound,
                    "faregate-validator not found beside this program or on PATH");
}

Result<RunReport> run_network(const Scenario& scenario, const RunOptions& options) {
  const auto wall_start = SteadyClock::now();
  RunReport report;
  report.scenario = scenario.name;
  report.mode = options.processes ? "processes" : "in-process";
  std::error_code ec;
  if (std::filesystem::exists(options.work_dir / "validators", ec)) {
    return make_error(ErrorCode::kInvalidArgument,
                      (options.work_dir / "validators").string() +
                          " already exists: give an empty work directory, journals from an "
                          "earlier run would be counted");
  }

  const NetworkPlan plan = plan_network(scenario);
  report.validators = plan.validators.size();
  for (const auto& v : plan.validators) {
    if (v.kind == ValidatorKind::kOnboard) ++report.onboard_validators;
  }
  report.riders = plan.riders.size();
  report.trips = plan.trips;
  report.rail_legs = plan.rail_legs;
  report.bus_legs = plan.bus_legs;
  report.forgotten_tap_outs = plan.forgotten_tap_outs;
  report.refused_trips = plan.refused_trips;
  report.taps_planned = plan.taps.size();

  // One card per rider for the whole day, made once: personalizing signs certificates (a few
  // milliseconds each). One thread: every card's certificate is signed with the one issuer key,
  // whose mbedTLS context serialises private-key operations anyway.
  std::set<std::string> known;
  for (const auto& kind : card_kinds()) known.insert(kind.name);
  std::vector<std::shared_ptr<hal::sim::ContactlessCard>> cards;
  cards.reserve(plan.riders.size());
  {
    Progress progress(options, "making the riders' cards", plan.riders.size());
    for (const auto& rider : plan.riders) {
      if (!known.contains(rider.card_kind)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "riders: unknown card kind '" + rider.card_kind +
                              "' (faregate-sim cards lists them)");
      }
      auto card = make_card(rider.card_kind, rider.card_seed);
      if (!card) return std::unexpected(card.error());
      cards.push_back(std::move(*card));
      progress.update(cards.size());
    }
  }
  auto tokens = expected_tokens(scenario, cards);
  if (!tokens) return std::unexpected(tokens.error());
  const double cards_seconds = seconds_since(wall_start);

  const double acceleration = options.clock_acceleration.value_or(scenario.clock_acceleration);
  PlayResult played;
  if (options.processes) {
    ProcessPlayOptions po;
    if (options.validator_binary.empty()) {
      auto binary = find_validator_binary();
      if (!binary) return std::unexpected(binary.error());
      po.validator_binary = *binary;
    } else {
      po.validator_binary = options.validator_binary;
    }
    po.work_dir = options.work_dir;
    po.backoffice_host = options.backoffice_host;
    po.backoffice_port = options.backoffice_port;
    if (std::filesystem::exists(options.work_dir / "pki", ec)) po.pki_dir = options.work_dir / "pki";
    po.key_seed = scenario.seed;
    po.batch_taps = static_cast<unsigned>(scenario.batch_taps);
    // The validators keep real time: the scenario's minutes pass `acceleration` times faster,
    // so the sync interval and the anti-passback window shrink with them.
    po.acceleration = acceleration;
    po.day_start_utc_ms = scenario.day_start_utc_ms;
    po.sync_interval_s =
        acceleration > 0
            ? static_cast<unsigned>(std::max(1.0, std::round(scenario.sync_every_minutes * 60.0 / acceleration)))
            : 5;
    po.anti_passback_s = acceleration > 0 ? static_cast<unsigned>(std::floor(60.0 / acceleration)) : 0;
    Progress progress(options, "taps", plan.taps.size());
    po.on_progress = [&progress](std::size_t done, std::size_t) { progress.update(done); };
    auto result = play_with_processes(plan, cards, po);
    if (!result) return std::unexpected(result.error());
    played.taps = std::move(result->taps);
    played.watermarks = std::move(result->watermarks);
    played.sync_sessions = result->sync_sessions;
    played.sync_failures = result->sync_failures;
    played.problems = std::move(result->problems);
    played.setup_seconds = result->setup_seconds;
    played.play_seconds = result->play_seconds;
    played.end_seconds = result->end_seconds;
  } else {
    InProcessPlayer player(scenario, plan, cards, options, acceleration);
    auto result = player.run();
    if (!result) return std::unexpected(result.error());
    played = std::move(*result);
  }
  report.setup_seconds = cards_seconds + played.setup_seconds;
  report.play_seconds = played.play_seconds;
  report.end_seconds = played.end_seconds;
  report.sync_sessions = played.sync_sessions;
  report.sync_failures = played.sync_failures;
  report.problems = played.problems;

  // What the system recorded: every validator's journal, and the back office's store.
  std::unique_ptr<store::SqliteTapStore> store;
  if (!options.backoffice_store.empty()) {
    auto opened = store::SqliteTapStore::open(options.backoffice_store);
    if (!opened) return with_context(opened.error(), "reading the back-office store");
    store = std::move(*opened);
    auto conflicts = store->conflicts();
    if (!conflicts) return std::unexpected(conflicts.error());
    report.conflicts = conflicts->size();
  }
  std::vector<JournalContents> journals(plan.validators.size());
  std::vector<std::map<std::uint64_t, faregate::v1::TapRecord>> stored(plan.validators.size());
  for (std::size_t v = 0; v < plan.validators.size(); ++v) {
    const auto& spec = plan.validators[v];
    auto journal = read_journal(validator_dir(options, spec.device_id) / "journal.db");
    if (!journal) return with_context(journal.error(), "validator " + spec.device_id);
    journals[v] = std::move(*journal);
    DeviceTally tally{spec.device_id};
    tally.journaled = journals[v].last_seq;
    if (store) {
      auto through = store->stored_through(spec.device_id);
      if (!through) return std::unexpected(through.error());
      tally.stored_through = *through;
      if (tally.journaled > 0) {
        auto records = store->taps_of_device(spec.device_id, 1, tally.journaled);
        if (!records) return std::unexpected(records.error());
        for (auto& r : *records) stored[v].emplace(r.seq(), std::move(r));
      }
    } else {
      // No store file to read: the watermark the back office acknowledged is the evidence.
      tally.stored_through = std::max(journals[v].synced_through,
                                      v < played.watermarks.size() ? played.watermarks[v] : 0);
    }
    report.devices.push_back(std::move(tally));
  }

  // Every rider's taps: made, journaled, stored, gate.
  std::vector<RiderTally> riders(plan.riders.size());
  for (std::size_t r = 0; r < plan.riders.size(); ++r) riders[r].planned = plan.riders[r].taps;
  std::vector<std::map<std::uint64_t, bool>> claimed(plan.validators.size());
  for (std::size_t i = 0; i < plan.taps.size(); ++i) {
    const TapEvent& event = plan.taps[i];
    const TapResult& tap = played.taps[i];
    const RiderSpec& rider = plan.riders[event.rider];
    RiderTally& tally = riders[event.rider];
    DeviceTally& device = report.devices[event.validator];
    const std::string& device_id = plan.validators[event.validator].device_id;
    if (tap.attempts == 0) continue;  // never presented
    ++report.taps_presented;
    ++tally.made;
    report.retries += tap.attempts - 1u;
    for (const std::uint64_t seq : tap.retried_seqs) {
      // An earlier presentation's deny that asked the rider to tap again: journaled and synced
      // like any tap, claimed by this one.
      const auto j = journals[event.validator].taps.find(seq);
      if (j == journals[event.validator].taps.end() || claimed[event.validator].contains(seq) ||
          j->second.decision() != faregate::v1::DECISION_DENY ||
          !is_tap_again_reason(j->second.reason())) {
        ++report.unexpected_decisions;
        add_problem(report.problems, fmt::format("{} seq {}: not the tap-again deny the validator "
                                                 "announced", device_id, seq));
        continue;
      }
      claimed[event.validator][seq] = true;
      ++report.retried_records;
      ++report.denied;
      ++report.deny_reasons[j->second.reason()];
      if (!tap.retried_gate_ok) ++report.gate_mismatches;
      const auto st = stored[event.validator].find(seq);
      const bool in_store = store ? st != stored[event.validator].end() &&
                                        st->second.SerializeAsString() == j->second.SerializeAsString()
                                  : seq <= device.stored_through;
      if (in_store) ++report.retried_records_stored;
    }
    if (tap.seq == 0) {
      ++report.taps_not_completed;
      continue;
    }
    report.processing_us_total += tap.processing_us;
    report.radio_model_us_total += tap.radio_model_us;
    if (tap.gate_ok) {
      ++tally.gate_ok;
    } else {
      ++report.gate_mismatches;
      add_problem(report.problems, fmt::format("{} seq {}: the gate's actions were not those of "
                                               "the decision", device_id, tap.seq));
    }
    if (tap.gate_opened) {
      ++tally.gate_opened;
      ++device.gate_opened;
    }
    const auto j = journals[event.validator].taps.find(tap.seq);
    if (j == journals[event.validator].taps.end() || claimed[event.validator].contains(tap.seq)) {
      add_problem(report.problems, fmt::format("{} seq {}: no such journal record for rider {}",
                                               device_id, tap.seq, event.rider));
      continue;
    }
    claimed[event.validator][tap.seq] = true;
    const faregate::v1::TapRecord& record = j->second;
    const bool accepted = record.decision() == faregate::v1::DECISION_ACCEPT;
    const bool right_card =
        record.card_token().empty() || record.card_token() == (*tokens)[event.rider];
    if (!right_card) {
      add_problem(report.problems,
                  fmt::format("{} seq {}: the journal holds another card's token", device_id, tap.seq));
    } else {
      ++tally.journaled;
    }
    CategoryTally& category = report.categories[scenario.groups[rider.group].category];
    if (accepted) {
      ++report.accepted;
      ++device.accepted;
      ++category.accepted;
    } else {
      ++report.denied;
      ++report.deny_reasons[record.reason()];
      ++category.denied;
    }
    if (right_card && accepted == rider.expect_accept && accepted == tap.accepted &&
        record.reason() == rider.expect_reason) {
      ++tally.as_expected;
    } else {
      ++report.unexpected_decisions;
      add_problem(report.problems,
                  fmt::format("{} seq {}: rider {} ({}) got {} ({}), expected {} ({})", device_id,
                              tap.seq, event.rider, rider.card_kind, accepted ? "accept" : "deny",
                              record.reason(), rider.expect_accept ? "accept" : "deny",
                              rider.expect_reason));
    }
    if (store) {
      const auto s = stored[event.validator].find(tap.seq);
      if (s != stored[event.validator].end() &&
          s->second.SerializeAsString() == record.SerializeAsString()) {
        ++tally.stored;
      }
    } else if (tap.seq <= device.stored_through) {
      ++tally.stored;
    }
  }
  for (std::size_t v = 0; v < plan.validators.size(); ++v) {
    const auto& device = report.devices[v];
    report.taps_journaled += journals[v].taps.size();
    report.taps_missing += device.journaled - std::min(device.journaled, device.stored_through);
    const std::uint64_t unclaimed = journals[v].taps.size() - claimed[v].size();
    if (unclaimed > 0) {
      report.unclaimed_records += unclaimed;
      add_problem(report.problems, fmt::format("{}: {} journal records no tap accounts for",
                                               device.device_id, unclaimed));
    }
  }
  report.taps_stored = report.retried_records_stored;
  for (const auto& r : riders) report.taps_stored += r.stored;

  for (std::size_t r = 0; r < plan.riders.size(); ++r) {
    const RiderSpec& spec = plan.riders[r];
    const RiderGroup& group = scenario.groups[spec.group];
    const RiderTally& t = riders[r];
    CategoryTally& c = report.categories[group.category];
    ++c.riders;
    c.taps += t.made;
    if (t.accounted()) {
      ++c.riders_accounted;
      ++report.riders_accounted;
    }
    report.rider_lines.push_back({group.name, group.category, spec.card_kind, t, (*tokens)[r]});
  }
  report.wall_seconds = seconds_since(wall_start);
  return report;
}

std::string format_report(const RunReport& r) {
  std::ostringstream out;
  out << fmt::format("scenario {} ({}): {} validators ({} onboard), {} riders\n",
                     r.scenario.empty() ? "(unnamed)" : r.scenario, r.mode, r.validators,
                     r.onboard_validators, r.riders);
  out << fmt::format("journeys:         {} ({} rail legs, {} bus legs, {} without tap-out, {} "
                     "refused at the gate)\n",
                     r.trips, r.rail_legs, r.bus_legs, r.forgotten_tap_outs, r.refused_trips);
  out << fmt::format("taps planned:     {}\n", r.taps_planned);
  out << fmt::format("taps made:        {} ({} accepted, {} denied; {} retried, {} not completed)\n",
                     r.taps_presented, r.accepted, r.denied, r.retries, r.taps_not_completed);
  if (r.retried_records > 0) {
    out << fmt::format("  plus {} denies that asked the rider to tap again (journaled, "
                       "then tapped again)\n",
                       r.retried_records);
  }
  for (const auto& [reason, n] : r.deny_reasons) {
    out << fmt::format("  denied {:<28} {}\n", reason + ":", n);
  }
  out << fmt::format("taps journaled:   {}\n", r.taps_journaled);
  out << fmt::format("taps in back office: {}\n", r.taps_stored);
  out << fmt::format("missing:          {}\n", r.taps_missing);
  out << fmt::format("conflicts:        {}\n", r.conflicts);
  out << fmt::format("unexpected decisions: {}, gate mismatches: {}, unclaimed records: {}\n",
                     r.unexpected_decisions, r.gate_mismatches, r.unclaimed_records);
  out << fmt::format("riders accounted for: {} of {} (every tap made, journaled, stored, decided "
                     "and gated as expected)\n",
                     r.riders_accounted, r.riders);
  out << "by rider category:\n";
  for (const auto& [category, c] : r.categories) {
    out << fmt::format("  {:<12} {:>7} riders ({} accounted for), {} taps: {} accepted, {} denied\n",
                       category, c.riders, c.riders_accounted, c.taps, c.accepted, c.denied);
  }
  const std::uint64_t decided = r.taps_presented - r.taps_not_completed;
  if (decided > 0) {
    const auto n = static_cast<double>(decided);
    if (r.mode == "in-process") {
      out << fmt::format("per tap (mean):   {:.0f} us processing + {:.0f} us modelled radio at 106 kbit/s\n",
                         static_cast<double>(r.processing_us_total) / n,
                         static_cast<double>(r.radio_model_us_total) / n);
    } else {
      out << fmt::format("per tap (mean):   {:.0f} us processing in the validator (libnfc and "
                         "the virtual PN532 included)\n",
                         static_cast<double>(r.processing_us_total) / n);
    }
  }
  out << fmt::format("sync sessions:    {} ({} failed and retried)\n", r.sync_sessions,
                     r.sync_failures);
  // Every device on a small network; on a large one only those that do not add up.
  const bool all = r.devices.size() <= 40;
  const auto short_of = [](const DeviceTally& d) { return d.journaled != d.stored_through; };
  const auto shorts = std::count_if(r.devices.begin(), r.devices.end(), short_of);
  if (all) {
    out << "per device (last seq journaled / back office holds through):\n";
  } else if (shorts == 0) {
    out << fmt::format("devices:          the back office holds every one of the {} validators' "
                       "taps through its last seq\n",
                       r.devices.size());
  } else {
    out << fmt::format("devices whose back office watermark is short of their journal ({} of {}):\n",
                       shorts, r.devices.size());
  }
  for (const auto& d : r.devices) {
    if (!all && !short_of(d)) continue;
    out << fmt::format("  {:<24} {:>6} / {:<6}{}\n", d.device_id, d.journaled, d.stored_through,
                       short_of(d) ? "  <- MISSING" : "");
  }
  std::size_t listed = 0;
  for (std::size_t i = 0; i < r.rider_lines.size() && listed < 20; ++i) {
    const auto& line = r.rider_lines[i];
    if (line.tally.accounted()) continue;
    if (listed++ == 0) out << "riders not accounted for (planned/made/journaled/stored/as expected/gate):\n";
    const auto& t = line.tally;
    out << fmt::format("  rider {:<7} {:<12} {:<14} {}/{}/{}/{}/{}/{}\n", i, line.group,
                       line.card_kind, t.planned, t.made, t.journaled, t.stored, t.as_expected,
                       t.gate_ok);
  }
  for (const auto& p : r.problems) out << "problem: " << p << "\n";
  out << fmt::format("time:             setup {:.1f} s, taps {:.2f} s ({:.0f} taps/s), end of day "
                     "{:.1f} s, total {:.1f} s\n",
                     r.setup_seconds, r.play_seconds,
                     r.play_seconds > 0 ? static_cast<double>(r.taps_presented) / r.play_seconds : 0.0,
                     r.end_seconds, r.wall_seconds);
  out << (r.ok() ? "result: OK, every rider's taps accounted for\n" : "result: FAILED\n");
  return out.str();
}

std::string report_json(const RunReport& r, bool riders) {
  // Insertion order: the summary first, then the tables.
  nlohmann::ordered_json j;
  j["scenario"] = r.scenario;
  j["mode"] = r.mode;
  j["validators"] = r.validators;
  j["onboard_validators"] = r.onboard_validators;
  j["riders"] = r.riders;
  j["trips"] = r.trips;
  j["rail_legs"] = r.rail_legs;
  j["bus_legs"] = r.bus_legs;
  j["forgotten_tap_outs"] = r.forgotten_tap_outs;
  j["refused_trips"] = r.refused_trips;
  j["taps_planned"] = r.taps_planned;
  j["taps_presented"] = r.taps_presented;
  j["taps_not_completed"] = r.taps_not_completed;
  j["retries"] = r.retries;
  j["retried_records"] = r.retried_records;
  j["taps_journaled"] = r.taps_journaled;
  j["accepted"] = r.accepted;
  j["denied"] = r.denied;
  j["deny_reasons"] = r.deny_reasons;
  j["taps_stored"] = r.taps_stored;
  j["taps_missing"] = r.taps_missing;
  j["conflicts"] = r.conflicts;
  j["unexpected_decisions"] = r.unexpected_decisions;
  j["gate_mismatches"] = r.gate_mismatches;
  j["unclaimed_records"] = r.unclaimed_records;
  j["riders_accounted"] = r.riders_accounted;
  j["processing_us_total"] = r.processing_us_total;
  j["radio_model_us_total"] = r.radio_model_us_total;
  j["sync_sessions"] = r.sync_sessions;
  j["sync_failures"] = r.sync_failures;
  j["setup_seconds"] = r.setup_seconds;
  j["play_seconds"] = r.play_seconds;
  j["end_seconds"] = r.end_seconds;
  j["wall_seconds"] = r.wall_seconds;
  j["taps_per_second"] =
      r.play_seconds > 0 ? static_cast<double>(r.taps_presented) / r.play_seconds : 0.0;
  j["problems"] = r.problems;
  j["ok"] = r.ok();
  auto& categories = j["categories"] = nlohmann::ordered_json::object();
  for (const auto& [name, c] : r.categories) {
    categories[name] = {{"riders", c.riders},
                        {"riders_accounted", c.riders_accounted},
                        {"taps", c.taps},
                        {"accepted", c.accepted},
                        {"denied", c.denied}};
  }
  auto& devices = j["devices"] = nlohmann::ordered_json::array();
  for (const auto& d : r.devices) {
    devices.push_back({{"device_id", d.device_id},
                       {"journaled", d.journaled},
                       {"stored_through", d.stored_through},
                       {"accepted", d.accepted},
                       {"gate_opened", d.gate_opened}});
  }
  if (riders) {
    auto& lines = j["rider_taps"] = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < r.rider_lines.size(); ++i) {
      const auto& line = r.rider_lines[i];
      const auto& t = line.tally;
      lines.push_back({{"rider", i},
                       {"group", line.group},
                       {"category", line.category},
                       {"card", line.card_kind},
                       {"planned", t.planned},
                       {"made", t.made},
                       {"journaled", t.journaled},
                       {"stored", t.stored},
                       {"as_expected", t.as_expected},
                       {"gate_ok", t.gate_ok},
                       {"gate_opened", t.gate_opened},
                       {"accounted", t.accounted()}});
    }
  }
  return j.dump();
}

}  // namespace faregate::simulator
