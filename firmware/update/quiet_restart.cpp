#include "firmware/update/quiet_restart.h"

namespace faregate::update {

void QuietRestart::request(std::string reason) {
  std::lock_guard lock(mutex_);
  if (!reason_) reason_ = std::move(reason);
}

bool QuietRestart::requested() const {
  std::lock_guard lock(mutex_);
  return reason_.has_value();
}

bool QuietRestart::begin_tap() {
  std::lock_guard lock(mutex_);
  if (restarting_) return false;
  ++taps_in_progress_;
  return true;
}

void QuietRestart::end_tap() {
  std::lock_guard lock(mutex_);
  if (taps_in_progress_ > 0) --taps_in_progress_;
}

std::optional<std::string> QuietRestart::take_if_quiet() {
  std::lock_guard lock(mutex_);
  if (!reason_ || taps_in_progress_ > 0) return std::nullopt;
  restarting_ = true;
  return reason_;
}

}  // namespace faregate::update
