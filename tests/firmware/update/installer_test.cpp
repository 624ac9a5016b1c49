// Installing into a real data directory: slots, pending state, and refusals that leave the
// validator exactly as it was.

#include <catch2/catch.hpp>

#include <fstream>

#include "firmware/update/boot_sequence.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/health.h"
#include "firmware/update/installer.h"
#include "tests/firmware/update/update_test_support.h"
#include "tests/support/temp_dir.h"

namespace faregate::update {
namespace {

struct Device {
  faregate::testing::TempDir data;
  PosixFileOps ops;
  FirmwareDir dir{data.path()};
  SigningKey key = testing::seeded_key(1);

  const PublicKey& trusted() const { return key.public_key(); }
  Result<SlotState> install(const Bytes& image) {
    return install_image(data.path(), image, trusted(), ops);
  }
  BootState state() {
    auto s = dir.load_state(ops);
    REQUIRE(s);
    REQUIRE(s->has_value());
    return **s;
  }
  // One boot that reports healthy, as the launcher would run it.
  BootPlan healthy_boot() {
    auto plan = begin_boot(dir, ops, trusted(), BootPolicy{});
    REQUIRE(plan);
    REQUIRE(plan->slot);
    REQUIRE(
        report_healthy(LaunchInfo{plan->next_state.boot_count, dir.health_file(), 'a', false, ""}));
    REQUIRE(health_reported(dir, ops, *plan));
    REQUIRE(confirm_healthy(dir, ops, *plan));
    return *plan;
  }
};

}  // namespace

TEST_CASE_METHOD(Device, "the first image on an empty device becomes its active image") {
  auto installed = install(testing::make_image(key, "1.0.0", 1));
  REQUIRE(installed);
  CHECK(installed->slot == Slot::kA);
  CHECK(installed->role == SlotRole::kActive);
  const BootState s = state();
  CHECK(s.active == Slot::kA);
  CHECK_FALSE(s.pending);
  CHECK(s.security_counter == 1);
}

TEST_CASE_METHOD(
    Device, "a new image goes to the other slot as pending and the running image is not touched") {
  const Bytes v1 = testing::make_image(key, "1.0.0", 1);
  REQUIRE(install(v1));
  const auto before = testing::snapshot(dir.root());
  int reports = 0;
  std::uint64_t last = 0;
  InstallOptions options;
  options.chunk_bytes = 16;
  options.progress = [&](std::uint64_t done, std::uint64_t total) {
    ++reports;
    CHECK(done <= total);
    last = done;
  };
  const Bytes v2 = testing::make_image(key, "2.0.0", 2);
  auto installed = install_image(data.path(), v2, trusted(), ops, options);
  REQUIRE(installed);
  CHECK(installed->slot == Slot::kB);
  CHECK(installed->role == SlotRole::kPending);
  CHECK(last == v2.size());
  CHECK(reports >= static_cast<int>(v2.size() / 16));
  CHECK(testing::snapshot(dir.root()).at("slot_a.fgi") == before.at("slot_a.fgi"));
  const BootState s = state();
  CHECK(s.active == Slot::kA);
  CHECK(s.pending == Slot::kB);
  CHECK(s.pending_image == crypto::sha256(v2));
  CHECK(s.security_counter == 1);  // raised only once the new image reports healthy
}

TEST_CASE_METHOD(Device,
                 "tampered, foreign-key and lower-counter images are refused and change nothing") {
  REQUIRE(install(testing::make_image(key, "1.0.0", 1)));
  REQUIRE(install(testing::make_image(key, "3.0.0", 3)));
  healthy_boot();  // 3.0.0 passes its trial: counter 3
  REQUIRE(state().security_counter == 3);
  const auto before = testing::snapshot(dir.root());

  Bytes tampered = testing::make_image(key, "4.0.0", 4);
  tampered[kImageHeaderBytes + 5] ^= 0x10;
  auto t = install(tampered);
  REQUIRE_FALSE(t);
  CHECK_THAT(t.error().message, Catch::Contains("payload was damaged or altered"));

  auto w = install(testing::make_image(testing::seeded_key(2), "4.0.0", 4));
  REQUIRE_FALSE(w);
  CHECK_THAT(w.error().message, Catch::Contains("signed by a different key"));

  auto old = install(testing::make_image(key, "2.0.0", 2));
  REQUIRE_FALSE(old);
  CHECK(old.error().code == ErrorCode::kConflict);
  CHECK_THAT(old.error().message,
             Catch::Contains("security counter 2") && Catch::Contains("rollback"));

  CHECK(testing::snapshot(dir.root()) == before);
}

TEST_CASE_METHOD(Device, "installing the image that already runs writes nothing") {
  const Bytes v1 = testing::make_image(key, "1.0.0", 1);
  REQUIRE(install(v1));
  const auto before = testing::snapshot(dir.root());
  auto again = install(v1);
  REQUIRE(again);
  CHECK(again->already_installed);
  CHECK(again->role == SlotRole::kActive);
  CHECK(testing::snapshot(dir.root()) == before);
}

TEST_CASE_METHOD(Device, "a newer install replaces a pending image and restarts its trial count") {
  REQUIRE(install(testing::make_image(key, "1.0.0", 1)));
  REQUIRE(install(testing::make_image(key, "2.0.0", 2)));
  REQUIRE(begin_boot(dir, ops, trusted(), BootPolicy{}));  // one trial boot used
  REQUIRE(state().trial_boots == 1);
  const Bytes v21 = testing::make_image(key, "2.1.0", 2);
  auto installed = install(v21);
  REQUIRE(installed);
  CHECK(installed->slot == Slot::kB);
  CHECK(state().pending_image == crypto::sha256(v21));
  CHECK(state().trial_boots == 0);
}

TEST_CASE_METHOD(
    Device, "a trial confirmed by its health report becomes active, and the old image is kept") {
  const Bytes v1 = testing::make_image(key, "1.0.0", 1);
  const Bytes v2 = testing::make_image(key, "2.0.0", 2);
  REQUIRE(install(v1));
  REQUIRE(install(v2));
  const BootPlan plan = healthy_boot();
  CHECK(plan.mode == BootMode::kTrial);
  const BootState s = state();
  CHECK(s.active == Slot::kB);
  CHECK_FALSE(s.pending);
  CHECK(s.security_counter == 2);
  CHECK(s.confirmed_image[0] == crypto::sha256(v1));
  // The next install goes over the old image in slot A, never over the running one.
  auto next = install(testing::make_image(key, "2.0.1", 2));
  REQUIRE(next);
  CHECK(next->slot == Slot::kA);
}

TEST_CASE_METHOD(
    Device, "an install never overwrites the last good image when the active slot is damaged") {
  const Bytes v1 = testing::make_image(key, "1.0.0", 1);
  const Bytes v11 = testing::make_image(key, "1.1.0", 1);
  REQUIRE(install(v1));
  REQUIRE(install(v11));
  healthy_boot();  // active B (1.1.0), A keeps 1.0.0 confirmed
  {
    std::fstream f(dir.slot_file(Slot::kB), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(kImageHeaderBytes));
    f.put('!');
  }
  auto installed = install(testing::make_image(key, "1.2.0", 1));
  REQUIRE(installed);
  CHECK(installed->slot == Slot::kB);  // slot A's good image is kept
  CHECK(testing::snapshot(dir.root()).at("slot_a.fgi") == v1);
  CHECK(state().active == Slot::kA);
}

TEST_CASE_METHOD(Device, "a health marker from another boot does not confirm a trial") {
  REQUIRE(install(testing::make_image(key, "1.0.0", 1)));
  REQUIRE(install(testing::make_image(key, "2.0.0", 2)));
  auto plan = begin_boot(dir, ops, trusted(), BootPolicy{});
  REQUIRE(plan);
  REQUIRE(report_healthy(
      LaunchInfo{plan->next_state.boot_count - 1, dir.health_file(), 'b', true, ""}));
  CHECK_FALSE(health_reported(dir, ops, *plan));
}

TEST_CASE("report_healthy outside the launcher does nothing; inside it writes the marker") {
  faregate::testing::TempDir data;
  ::unsetenv(std::string(kBootIdEnv).c_str());
  ::unsetenv(std::string(kHealthFileEnv).c_str());
  auto outside = report_healthy();
  REQUIRE(outside);
  CHECK_FALSE(*outside);

  const auto marker = data.path() / "healthy";
  ::setenv(std::string(kBootIdEnv).c_str(), "17", 1);
  ::setenv(std::string(kHealthFileEnv).c_str(), marker.c_str(), 1);
  ::setenv(std::string(kBootSlotEnv).c_str(), "b", 1);
  ::setenv(std::string(kBootTrialEnv).c_str(), "1", 1);
  const auto info = launch_info_from_environment();
  REQUIRE(info);
  CHECK(info->boot_id == 17);
  CHECK(info->slot == 'b');
  CHECK(info->trial);
  auto inside = report_healthy();
  ::unsetenv(std::string(kBootIdEnv).c_str());
  ::unsetenv(std::string(kHealthFileEnv).c_str());
  REQUIRE(inside);
  CHECK(*inside);
  std::ifstream in(marker);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(health_marker_matches(text, 17));
  CHECK_FALSE(health_marker_matches(text, 18));
}

TEST_CASE("a damaged boot state is rebuilt from the slots without lowering the security counter") {
  faregate::testing::TempDir data;
  PosixFileOps ops;
  const FirmwareDir dir(data.path());
  const auto key = testing::seeded_key(1);
  REQUIRE(install_image(data.path(), testing::make_image(key, "1.0.0", 1), key.public_key(), ops));
  REQUIRE(install_image(data.path(), testing::make_image(key, "2.0.0", 2), key.public_key(), ops));
  { std::ofstream(dir.state_file(), std::ios::trunc) << "garbage"; }
  auto plan = begin_boot(dir, ops, key.public_key(), BootPolicy{});
  REQUIRE(plan);
  REQUIRE(plan->slot == Slot::kB);
  CHECK(plan->next_state.security_counter == 2);
  auto old =
      install_image(data.path(), testing::make_image(key, "1.5.0", 1), key.public_key(), ops);
  REQUIRE_FALSE(old);
  CHECK(old.error().code == ErrorCode::kConflict);
}

}  // namespace faregate::update
