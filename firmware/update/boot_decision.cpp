#include "firmware/update/boot_decision.h"

#include <limits>

#include <fmt/format.h>

#include "firmware/update/image_verifier.h"

namespace faregate::update {

namespace {

std::uint32_t saturating_increment(std::uint32_t n) {
  return n == std::numeric_limits<std::uint32_t>::max() ? n : n + 1;
}

std::string describe(Slot slot, const SlotCheck& check) {
  if (check.header) {
    return fmt::format("slot {} (version {})", slot_letter(slot), check.header->firmware_version);
  }
  return fmt::format("slot {}", slot_letter(slot));
}

// Empty if `slot` may start outside a trial; otherwise why not.
std::string why_not_confirmed(const BootState& state, const SlotChecks& slots, Slot slot) {
  const SlotCheck& check = slots[slot_index(slot)];
  if (!check.present) return fmt::format("slot {} is empty", slot_letter(slot));
  if (!check.verified()) {
    return fmt::format("slot {} refused: {}", slot_letter(slot), check.problem);
  }
  if (auto ok = check_security_counter(*check.header, state.security_counter); !ok) {
    return fmt::format("slot {} refused: {}", slot_letter(slot), ok.error().message);
  }
  if (state.confirmed_image[slot_index(slot)] != check.image_sha256) {
    return fmt::format("{} never reported healthy", describe(slot, check));
  }
  return {};
}

void start(BootPlan& plan, Slot slot, BootMode mode, const SlotCheck& check) {
  plan.slot = slot;
  plan.mode = mode;
  plan.image_sha256 = *check.image_sha256;
  plan.security_counter = check.header->security_counter;
  plan.firmware_version = check.header->firmware_version;
  plan.next_state.boot_count += 1;
}

}  // namespace

BootPlan plan_boot(const BootState& state, const SlotChecks& slots, const BootPolicy& policy) {
  BootPlan plan;
  BootState& next = plan.next_state;
  next = state;

  if (next.pending) {
    const Slot p = *next.pending;
    const SlotCheck& check = slots[slot_index(p)];
    std::string drop_reason;
    if (!check.verified()) {
      drop_reason = fmt::format("pending image in slot {} refused: {}", slot_letter(p),
                                check.present ? check.problem : "slot is empty");
    } else if (check.image_sha256 != next.pending_image) {
      drop_reason =
          fmt::format("slot {} no longer holds the image that was installed", slot_letter(p));
    } else if (auto ok = check_security_counter(*check.header, next.security_counter); !ok) {
      drop_reason =
          fmt::format("pending image in slot {} refused: {}", slot_letter(p), ok.error().message);
    } else if (next.trial_boots >= policy.max_trial_boots) {
      drop_reason = fmt::format("trial of {} did not report healthy in {} boots: rolled back",
                                describe(p, check), next.trial_boots);
    }
    if (drop_reason.empty()) {
      next.trial_boots += 1;
      start(plan, p, BootMode::kTrial, check);
      return plan;
    }
    plan.notes.push_back(std::move(drop_reason));
    next.pending.reset();
    next.pending_image.reset();
    next.trial_boots = 0;
  }

  if (!next.active) {
    plan.notes.push_back("no confirmed image on this device");
    return plan;
  }
  const Slot a = *next.active;
  const Slot o = other_slot(a);
  const std::string active_problem = why_not_confirmed(next, slots, a);
  const bool other_ok = why_not_confirmed(next, slots, o).empty();

  if (active_problem.empty() && next.failed_boots < policy.max_failed_boots) {
    next.failed_boots += 1;
    start(plan, a, BootMode::kConfirmed, slots[slot_index(a)]);
    return plan;
  }
  if (other_ok) {
    plan.notes.push_back(
        active_problem.empty()
            ? fmt::format("slot {} did not report healthy in {} boots in a row: back to "
                          "the previous image in slot {}",
                          slot_letter(a), next.failed_boots, slot_letter(o))
            : fmt::format("{}: back to the previous image in slot {}", active_problem,
                          slot_letter(o)));
    next.active = o;
    next.failed_boots = 1;
    start(plan, o, BootMode::kConfirmed, slots[slot_index(o)]);
    return plan;
  }
  if (active_problem.empty()) {
    // A crash loop with nothing to fall back on: the only trustworthy image keeps trying.
    plan.notes.push_back(
        fmt::format("slot {} did not report healthy in {} boots in a row and there is "
                    "no other confirmed image: trying it again",
                    slot_letter(a), next.failed_boots));
    next.failed_boots = saturating_increment(next.failed_boots);
    start(plan, a, BootMode::kConfirmed, slots[slot_index(a)]);
    return plan;
  }
  plan.notes.push_back(active_problem);
  plan.notes.push_back(why_not_confirmed(next, slots, o));
  return plan;
}

BootState after_healthy(const BootState& current, const BootPlan& plan) {
  BootState next = current;
  if (!plan.slot) return next;
  const Slot s = *plan.slot;
  if (plan.mode == BootMode::kTrial) {
    // Only the image that was on trial is confirmed: an install since then changed nothing here.
    if (next.pending != s || next.pending_image != plan.image_sha256) return next;
    next.active = s;
    next.confirmed_image[slot_index(s)] = plan.image_sha256;
    next.pending.reset();
    next.pending_image.reset();
    next.trial_boots = 0;
    next.failed_boots = 0;
    next.security_counter = std::max(next.security_counter, plan.security_counter);
    return next;
  }
  if (next.active == s && next.confirmed_image[slot_index(s)] == plan.image_sha256) {
    next.failed_boots = 0;
  }
  return next;
}

BootState rebuild_state(const SlotChecks& slots, std::vector<std::string>& notes) {
  BootState state;
  std::optional<Slot> best;
  for (Slot s : {Slot::kA, Slot::kB}) {
    const SlotCheck& check = slots[slot_index(s)];
    if (!check.verified()) continue;
    if (!best ||
        check.header->security_counter > slots[slot_index(*best)].header->security_counter) {
      best = s;
    }
  }
  if (!best) {
    notes.push_back("no verified image in either slot");
    return state;
  }
  const std::uint64_t counter = slots[slot_index(*best)].header->security_counter;
  state.active = *best;
  state.security_counter = counter;
  for (Slot s : {Slot::kA, Slot::kB}) {
    const SlotCheck& check = slots[slot_index(s)];
    if (check.verified() && check.header->security_counter >= counter) {
      state.confirmed_image[slot_index(s)] = check.image_sha256;
    }
  }
  notes.push_back(
      fmt::format("boot state rebuilt from the slots: {} is active, security counter {}",
                  describe(*best, slots[slot_index(*best)]), counter));
  return state;
}

}  // namespace faregate::update
