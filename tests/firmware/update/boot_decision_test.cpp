// The launcher's decision as a pure function: trial boots, rollback, crash loops and the
// security counter, each with real signed images in the slots.

#include <catch2/catch.hpp>

#include "firmware/update/boot_decision.h"
#include "tests/firmware/update/update_test_support.h"

namespace faregate::update {
namespace {

struct Fixture {
  SigningKey key = testing::seeded_key(1);
  Bytes v1 = testing::make_image(key, "1.0.0", 1);
  Bytes v2 = testing::make_image(key, "2.0.0", 2);
  Bytes v2_same_counter = testing::make_image(key, "1.0.1", 1);
  BootPolicy policy{3, 3};

  PublicKey trusted() const {
    auto pub = PublicKey::from_pem(key.public_key().pem());
    return std::move(*pub);
  }
  // Slot A runs v1 (confirmed); slot B holds `b` as pending.
  BootState with_pending(const Bytes& b) const {
    BootState s;
    s.active = Slot::kA;
    s.confirmed_image[0] = crypto::sha256(v1);
    s.pending = Slot::kB;
    s.pending_image = crypto::sha256(b);
    s.security_counter = 1;
    s.boot_count = 10;
    return s;
  }
  bool mentions(const BootPlan& plan, const std::string& text) const {
    for (const auto& n : plan.notes) {
      if (n.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

}  // namespace

TEST_CASE_METHOD(Fixture, "a confirmed active image boots and the attempt is counted first") {
  BootState s = with_pending(v2);
  s.pending.reset();
  s.pending_image.reset();
  const auto trusted_key = trusted();
  const BootPlan plan = plan_boot(s, testing::checks_for(&v1, nullptr, trusted_key), policy);
  REQUIRE(plan.slot == Slot::kA);
  CHECK(plan.mode == BootMode::kConfirmed);
  CHECK(plan.image_sha256 == crypto::sha256(v1));
  CHECK(plan.next_state.failed_boots == 1);
  CHECK(plan.next_state.boot_count == 11);
}

TEST_CASE_METHOD(Fixture, "a pending image boots in trial mode and each trial boot is counted") {
  BootState s = with_pending(v2);
  const auto trusted_key = trusted();
  const auto slots = testing::checks_for(&v1, &v2, trusted_key);
  for (std::uint32_t i = 1; i <= policy.max_trial_boots; ++i) {
    const BootPlan plan = plan_boot(s, slots, policy);
    REQUIRE(plan.slot == Slot::kB);
    CHECK(plan.mode == BootMode::kTrial);
    CHECK(plan.next_state.trial_boots == i);
    CHECK(plan.next_state.active == Slot::kA);  // still the image to come back to
    s = plan.next_state;
  }
  const BootPlan rollback = plan_boot(s, slots, policy);
  REQUIRE(rollback.slot == Slot::kA);
  CHECK(rollback.mode == BootMode::kConfirmed);
  CHECK_FALSE(rollback.next_state.pending);
  CHECK(rollback.next_state.trial_boots == 0);
  CHECK(mentions(rollback, "rolled back"));
}

TEST_CASE_METHOD(
    Fixture, "a trial image that reports healthy becomes active and raises the security counter") {
  const auto trusted_key = trusted();
  const BootPlan plan =
      plan_boot(with_pending(v2), testing::checks_for(&v1, &v2, trusted_key), policy);
  const BootState confirmed = after_healthy(plan.next_state, plan);
  CHECK(confirmed.active == Slot::kB);
  CHECK_FALSE(confirmed.pending);
  CHECK(confirmed.confirmed_image[1] == crypto::sha256(v2));
  CHECK(confirmed.confirmed_image[0] == crypto::sha256(v1));
  CHECK(confirmed.security_counter == 2);
  CHECK(confirmed.trial_boots == 0);
}

TEST_CASE_METHOD(Fixture,
                 "a health report does not confirm an image installed after the boot started") {
  const auto trusted_key = trusted();
  const BootPlan plan =
      plan_boot(with_pending(v2), testing::checks_for(&v1, &v2, trusted_key), policy);
  BootState changed = plan.next_state;
  changed.pending_image = crypto::sha256(v2_same_counter);  // an install replaced slot B meanwhile
  changed.trial_boots = 0;
  CHECK(after_healthy(changed, plan) == changed);
}

TEST_CASE_METHOD(Fixture,
                 "a pending image whose slot no longer holds it is dropped, never started") {
  const auto trusted_key = trusted();
  const BootPlan plan =
      plan_boot(with_pending(v2), testing::checks_for(&v1, &v2_same_counter, trusted_key), policy);
  CHECK(plan.slot == Slot::kA);
  CHECK_FALSE(plan.next_state.pending);
  CHECK(mentions(plan, "no longer holds"));
}

TEST_CASE_METHOD(Fixture, "a pending image below the security counter is refused") {
  BootState s = with_pending(v2);
  s.security_counter = 3;
  const Bytes v3 = testing::make_image(key, "3.0.0", 3);
  s.confirmed_image[0] = crypto::sha256(v3);
  const auto trusted_key = trusted();
  const BootPlan plan = plan_boot(s, testing::checks_for(&v3, &v2, trusted_key), policy);
  CHECK(plan.slot == Slot::kA);
  CHECK(mentions(plan, "security counter 2"));
}

TEST_CASE_METHOD(Fixture, "a damaged pending image is dropped with the reason") {
  Bytes damaged = v2;
  damaged[kImageHeaderBytes] ^= 1;
  const auto trusted_key = trusted();
  const BootPlan plan =
      plan_boot(with_pending(v2), testing::checks_for(&v1, &damaged, trusted_key), policy);
  CHECK(plan.slot == Slot::kA);
  CHECK(mentions(plan, "payload SHA-256 does not match"));
}

TEST_CASE_METHOD(Fixture, "a crash-looping active slot gives way to the confirmed previous image") {
  BootState s;
  s.active = Slot::kB;
  s.confirmed_image[0] = crypto::sha256(v1);
  s.confirmed_image[1] = crypto::sha256(v2_same_counter);
  s.security_counter = 1;
  s.failed_boots = policy.max_failed_boots;
  const auto trusted_key = trusted();
  const BootPlan plan =
      plan_boot(s, testing::checks_for(&v1, &v2_same_counter, trusted_key), policy);
  REQUIRE(plan.slot == Slot::kA);
  CHECK(plan.next_state.active == Slot::kA);
  CHECK(plan.next_state.failed_boots == 1);
  CHECK(mentions(plan, "back to the previous image in slot a"));
}

TEST_CASE_METHOD(Fixture,
                 "the previous image is not brought back if its security counter is too low") {
  BootState s;
  s.active = Slot::kB;
  s.confirmed_image[0] = crypto::sha256(v1);
  s.confirmed_image[1] = crypto::sha256(v2);
  s.security_counter = 2;
  s.failed_boots = policy.max_failed_boots;
  const auto trusted_key = trusted();
  const BootPlan plan = plan_boot(s, testing::checks_for(&v1, &v2, trusted_key), policy);
  REQUIRE(plan.slot == Slot::kB);  // the only image allowed keeps trying
  CHECK(mentions(plan, "no other confirmed image"));
}

TEST_CASE_METHOD(Fixture,
                 "a damaged active image gives way to the confirmed previous image at once") {
  BootState s;
  s.active = Slot::kB;
  s.confirmed_image[0] = crypto::sha256(v1);
  s.confirmed_image[1] = crypto::sha256(v2_same_counter);
  s.security_counter = 1;
  Bytes damaged = v2_same_counter;
  damaged.back() ^= 1;
  const auto trusted_key = trusted();
  const BootPlan plan = plan_boot(s, testing::checks_for(&v1, &damaged, trusted_key), policy);
  REQUIRE(plan.slot == Slot::kA);
  CHECK(mentions(plan, "signature does not verify"));
}

TEST_CASE_METHOD(Fixture, "an image that never reported healthy is never started outside a trial") {
  BootState s;
  s.active = Slot::kA;
  s.confirmed_image[0] = crypto::sha256(v1);
  s.security_counter = 1;
  Bytes damaged = v1;
  damaged[kImageHeaderBytes] ^= 1;
  const auto trusted_key = trusted();
  const BootPlan plan = plan_boot(s, testing::checks_for(&damaged, &v2, trusted_key), policy);
  CHECK_FALSE(plan.slot);
  CHECK(mentions(plan, "never reported healthy"));
}

TEST_CASE_METHOD(Fixture, "a device without images has nothing to boot") {
  const auto trusted_key = trusted();
  const BootPlan plan =
      plan_boot(BootState{}, testing::checks_for(nullptr, nullptr, trusted_key), policy);
  CHECK_FALSE(plan.slot);
  CHECK(plan.next_state == BootState{});
}

TEST_CASE_METHOD(Fixture,
                 "a rebuilt state trusts the highest-counter image and raises the counter to it") {
  const auto trusted_key = trusted();
  std::vector<std::string> notes;
  const BootState s = rebuild_state(testing::checks_for(&v1, &v2, trusted_key), notes);
  CHECK(s.active == Slot::kB);
  CHECK(s.security_counter == 2);
  CHECK_FALSE(s.confirmed_image[0]);  // below the counter: never comes back
  CHECK(s.confirmed_image[1] == crypto::sha256(v2));
  CHECK_FALSE(notes.empty());
}

TEST_CASE_METHOD(Fixture, "a healthy confirmed boot clears its failed-boot count") {
  BootState s = with_pending(v2);
  s.pending.reset();
  s.pending_image.reset();
  s.failed_boots = 2;
  const auto trusted_key = trusted();
  const BootPlan plan = plan_boot(s, testing::checks_for(&v1, nullptr, trusted_key), policy);
  CHECK(plan.next_state.failed_boots == 3);
  CHECK(after_healthy(plan.next_state, plan).failed_boots == 0);
}

}  // namespace faregate::update
