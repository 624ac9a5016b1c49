#include "backoffice/recon/store_pricing.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

namespace faregate::recon {

namespace {

// A page of records: the first `count` of `records` (read_taps_of_device's buffer).
struct Page {
  std::vector<faregate::v1::TapRecord> records;
  std::size_t count = 0;
};

// Pages of records handed from the thread that reads the store to the one that books them:
// reading (the store's queries, protobuf parsing) and booking overlap instead of taking turns.
// Bounded, so that a fast reader holds at most a few pages in memory. Booked pages come back
// to the reader, which reads the next ones into them: their records (and the records' strings)
// are reused rather than allocated for every tap and freed on the other thread.
class PageQueue {
 public:
  // Blocks while the queue is full. Returns false when the consumer has gone.
  bool push(Page page) {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return pages_.size() < kCapacity || abandoned_; });
    if (abandoned_) return false;
    pages_.push_back(std::move(page));
    ready_.notify_one();
    return true;
  }
  // The reader is done, with `error` when it failed.
  void finish(std::optional<Error> error) {
    std::lock_guard lock(mutex_);
    finished_ = true;
    error_ = std::move(error);
    ready_.notify_one();
  }
  // Next page; nullopt once the reader finished and every page was taken.
  std::optional<Page> pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !pages_.empty() || finished_; });
    if (pages_.empty()) return std::nullopt;
    auto page = std::move(pages_.front());
    pages_.pop_front();
    space_.notify_one();
    return page;
  }
  // A booked page, for the reader to fill again.
  void recycle(Page page) {
    std::lock_guard lock(mutex_);
    spare_.push_back(std::move(page));
  }
  // A page to read into: a recycled one when there is one, else a new one.
  Page take_spare() {
    std::lock_guard lock(mutex_);
    if (spare_.empty()) return {};
    Page page = std::move(spare_.back());
    spare_.pop_back();
    return page;
  }
  void abandon() {
    std::lock_guard lock(mutex_);
    abandoned_ = true;
    space_.notify_one();
  }
  std::optional<Error> error() {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  static constexpr std::size_t kCapacity = 4;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Page> pages_;
  std::vector<Page> spare_;
  bool finished_ = false, abandoned_ = false;
  std::optional<Error> error_;
};

}  // namespace

Result<StorePricing> price_tap_store(store::TapStore& store, const fares::FarePolicy& policy,
                                     const fares::EntitlementRegistry& entitlements,
                                     const StorePricingOptions& options) {
  auto summaries = store.device_summaries();
  if (!summaries) return std::unexpected(summaries.error());
  auto conflicts = store.conflicts();
  if (!conflicts) return std::unexpected(conflicts.error());
  StorePricing out;
  out.book = std::make_unique<TapBook>(policy, options.service_day_start_s);
  std::uint64_t stored_taps = 0;
  for (const auto& s : *summaries) {
    DeviceInput d{s.device_id, s.stored_through_seq, s.max_seq, s.tap_count, s.missing, 0};
    for (const auto& c : *conflicts) d.conflicts += c.device_id == s.device_id;
    out.devices.push_back(d);
    stored_taps += s.tap_count;
  }
  // One allocation of the right size instead of doublings (which at a peak hold one and a
  // half copies of every tap).
  out.book->reserve(stored_taps);

  PageQueue queue;
  {
    std::jthread reader([&] {
      // Each device's taps in pages by seq range, so that a gap ends no page early.
      constexpr std::size_t kPage = 10'000;
      for (const auto& s : *summaries) {
        for (std::uint64_t from = 1; from <= s.max_seq; from += kPage) {
          Page page = queue.take_spare();
          auto count = store.read_taps_of_device(s.device_id, from, kPage, page.records);
          if (!count) {
            queue.finish(count.error());
            return;
          }
          page.count = *count;
          if (!queue.push(std::move(page))) return;
        }
      }
      queue.finish(std::nullopt);
    });
    while (auto page = queue.pop()) {
      const std::span<const faregate::v1::TapRecord> records(page->records.data(), page->count);
      if (options.on_records) options.on_records(records);
      out.book->add(records);
      queue.recycle(std::move(*page));
    }
    queue.abandon();
  }
  if (auto error = queue.error()) return std::unexpected(std::move(*error));

  fares::EngineOptions engine_options;
  engine_options.service_day_start_s = options.service_day_start_s;
  engine_options.threads = options.threads;
  fares::FareEngine engine(policy, engine_options);
  out.pricing = engine.price(out.book->taps(), entitlements);
  return out;
}

}  // namespace faregate::recon
