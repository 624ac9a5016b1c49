// The power-loss suite: for every install and every boot-state change, cut the power at each
// write step in turn (not a sample), restore the disk as a power loss could leave it (three loss
// models, and interrupted writes half done), boot, and check what the launcher would start:
// always an image signed by the trusted key, byte for byte one that was installed, and never one
// below the security counter the device had confirmed. Then check the device can still be
// updated (the technician retries).

#include <catch2/catch.hpp>

#include <functional>
#include <iostream>
#include <set>

#include "firmware/update/boot_sequence.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/image_verifier.h"
#include "firmware/update/installer.h"
#include "tests/firmware/update/fault_file_ops.h"
#include "tests/firmware/update/update_test_support.h"
#include "tests/support/temp_dir.h"

namespace faregate::update {
namespace {

using testing::FaultFileOps;
using testing::LossModel;

const BootPolicy kPolicy{3, 3};

// The disk is simulated by FaultFileOps, so real fsyncs only cost time: use memory when there is
// a tmpfs.
std::filesystem::path scratch_parent() {
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec)) return "/dev/shm";
  return std::filesystem::temp_directory_path();
}

struct Images {
  SigningKey key = testing::seeded_key(1);
  // Payloads big enough that an install takes several write steps.
  Bytes v1 = testing::make_image(key, "1.0.0", 1, std::string(700, '1'));
  Bytes v11 = testing::make_image(key, "1.1.0", 1, std::string(700, 'e'));
  Bytes v2 = testing::make_image(key, "2.0.0", 2, std::string(900, '2'));
  Bytes v3 = testing::make_image(key, "3.0.0", 3, std::string(500, '3'));
  Bytes v4 = testing::make_image(key, "4.0.0", 4, std::string(600, '4'));
};

const Images& images() {
  static const Images kImages;
  return kImages;
}

InstallOptions small_chunks() {
  InstallOptions o;
  o.chunk_bytes = 256;
  return o;
}

struct Scenario {
  std::string name;
  // Brings a fresh data directory to the starting point (no faults).
  std::function<void(const std::filesystem::path&)> setup;
  // The operation the power cut interrupts. Its result is ignored: it may fail at the cut.
  std::function<void(const std::filesystem::path&, FileOps&)> operation;
  // True if a device with nothing bootable is acceptable after a cut (an empty device).
  bool may_have_nothing = false;
};

void must(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("scenario setup failed: " + what);
}

void install(const std::filesystem::path& data, const Bytes& image) {
  PosixFileOps ops;
  auto r = install_image(data, image, images().key.public_key(), ops, small_chunks());
  must(r.has_value(), r ? "" : r.error().describe());
}

BootPlan boot(const std::filesystem::path& data) {
  PosixFileOps ops;
  auto plan = begin_boot(FirmwareDir(data), ops, images().key.public_key(), kPolicy);
  must(plan && plan->slot, "boot");
  return *plan;
}

void healthy(const std::filesystem::path& data, const BootPlan& plan) {
  PosixFileOps ops;
  must(confirm_healthy(FirmwareDir(data), ops, plan).has_value(), "confirm");
}

std::vector<Scenario> scenarios() {
  const Images& im = images();
  const PublicKey& key = im.key.public_key();
  std::vector<Scenario> list;
  list.push_back({"first install on an empty device", [](const auto&) {},
                  [&](const auto& data, FileOps& ops) {
                    (void)install_image(data, im.v1, key, ops, small_chunks());
                  },
                  true});
  list.push_back({"install into the inactive slot", [&](const auto& data) { install(data, im.v1); },
                  [&](const auto& data, FileOps& ops) {
                    (void)install_image(data, im.v2, key, ops, small_chunks());
                  }});
  list.push_back({"install over a pending image in trial",
                  [&](const auto& data) {
                    install(data, im.v1);
                    install(data, im.v2);
                    (void)boot(data);
                  },
                  [&](const auto& data, FileOps& ops) {
                    (void)install_image(data, im.v3, key, ops, small_chunks());
                  }});
  list.push_back({"install over the previous image after an upgrade raised the counter",
                  [&](const auto& data) {
                    install(data, im.v1);
                    install(data, im.v3);
                    healthy(data, boot(data));
                  },
                  [&](const auto& data, FileOps& ops) {
                    (void)install_image(data, im.v4, key, ops, small_chunks());
                  }});
  list.push_back({"recording a trial boot",
                  [&](const auto& data) {
                    install(data, im.v1);
                    install(data, im.v2);
                  },
                  [&](const auto& data, FileOps& ops) {
                    (void)begin_boot(FirmwareDir(data), ops, key, kPolicy);
                  }});
  list.push_back({"confirming a healthy trial",
                  [&](const auto& data) {
                    install(data, im.v1);
                    install(data, im.v2);
                  },
                  [&](const auto& data, FileOps& ops) {
                    // The boot itself is set up without faults; the cut hits the confirmation.
                    const BootPlan plan = boot(data);
                    (void)confirm_healthy(FirmwareDir(data), ops, plan);
                  }});
  list.push_back({"rolling back a trial that used all its boots",
                  [&](const auto& data) {
                    install(data, im.v1);
                    install(data, im.v2);
                    for (std::uint32_t i = 0; i < kPolicy.max_trial_boots; ++i) (void)boot(data);
                  },
                  [&](const auto& data, FileOps& ops) {
                    (void)begin_boot(FirmwareDir(data), ops, key, kPolicy);
                  }});
  list.push_back({"switching to the previous image after a crash loop",
                  [&](const auto& data) {
                    install(data, im.v1);
                    install(data, im.v11);
                    healthy(data, boot(data));
                    for (std::uint32_t i = 0; i < kPolicy.max_failed_boots; ++i) (void)boot(data);
                  },
                  [&](const auto& data, FileOps& ops) {
                    (void)begin_boot(FirmwareDir(data), ops, key, kPolicy);
                  }});
  return list;
}

// What the launcher would start after the power comes back; empty string if all is well.
std::string check_boot(const std::filesystem::path& data, std::uint64_t confirmed_counter_before,
                       bool may_have_nothing) {
  const Images& im = images();
  PosixFileOps ops;
  const FirmwareDir dir(data);
  auto stored = dir.load_state(ops);
  if (!stored) return "boot state unreadable after the power loss: " + stored.error().describe();
  const std::uint64_t counter_now = stored->has_value() ? (*stored)->security_counter : 0;
  if (counter_now < confirmed_counter_before) return "security counter went down";

  auto plan = begin_boot(dir, ops, im.key.public_key(), kPolicy);
  if (!plan) return "boot failed: " + plan.error().describe();
  if (!plan->slot) {
    return may_have_nothing ? "" : "nothing bootable although a good image was installed";
  }
  auto image = load_planned_image(dir, ops, im.key.public_key(), *plan);
  if (!image) return "planned image does not load: " + image.error().describe();
  auto verified = verify_image(*image, im.key.public_key());
  if (!verified) return "launcher would start an image that does not verify";
  const std::set<Bytes> known = {im.v1, im.v11, im.v2, im.v3, im.v4};
  if (!known.contains(*image)) return "launcher would start bytes that were never installed";
  if (verified->header.security_counter < std::max(confirmed_counter_before, counter_now)) {
    return "launcher would start an image below the security counter";
  }
  return {};
}

}  // namespace

TEST_CASE(
    "a power cut at any write step of an install or a boot-state change never leads to a bad "
    "boot") {
  std::size_t fault_points = 0;
  std::size_t bad_boots = 0;
  std::vector<std::string> failures;

  for (const Scenario& scenario : scenarios()) {
    // The starting point, made once and copied for every fault point.
    const faregate::testing::TempDir start(scratch_parent());
    scenario.setup(start.path());
    const auto start_from = [&](const std::filesystem::path& data) {
      std::filesystem::copy(start.path(), data, std::filesystem::copy_options::recursive);
    };
    PosixFileOps real_ops;
    auto stored = FirmwareDir(start.path()).load_state(real_ops);
    const std::uint64_t counter_before =
        stored && stored->has_value() ? (*stored)->security_counter : 0;

    // A run without a cut counts the steps and shows the scenario works at all.
    std::vector<testing::StepKind> kinds;
    {
      faregate::testing::TempDir data(scratch_parent());
      start_from(data.path());
      FaultFileOps counting;
      scenario.operation(data.path(), counting);
      REQUIRE_FALSE(counting.ordering_bug());
      kinds = counting.step_kinds();
      REQUIRE(check_boot(data.path(), counter_before, false).empty());
    }
    REQUIRE(kinds.size() >= 5);

    for (std::size_t cut = 1; cut <= kinds.size(); ++cut) {
      for (LossModel model :
           {LossModel::kEverythingLanded, LossModel::kUnsyncedLost, LossModel::kUnsyncedGarbage}) {
        for (bool partial : {false, true}) {
          if (partial && kinds[cut - 1] != testing::StepKind::kAppend) continue;
          faregate::testing::TempDir data(scratch_parent());
          start_from(data.path());
          FaultFileOps faulty(cut, partial);
          scenario.operation(data.path(), faulty);
          REQUIRE(faulty.power_cut());
          faulty.restore_after_power_loss(model);
          ++fault_points;

          std::string problem = faulty.ordering_bug().value_or("");
          if (problem.empty()) {
            problem = check_boot(data.path(), counter_before, scenario.may_have_nothing);
          }
          // After the reboot the device must still take the update (the technician retries).
          if (problem.empty()) {
            FaultFileOps retry;
            scenario.operation(data.path(), retry);
            problem = check_boot(data.path(), counter_before, false);
            if (!problem.empty()) problem = "after retrying: " + problem;
          }
          if (!problem.empty()) {
            ++bad_boots;
            failures.push_back(scenario.name + ", step " + std::to_string(cut) + ", " +
                               testing::to_string(model) + (partial ? ", half-written" : "") +
                               ": " + problem);
          }
        }
      }
    }
  }
  for (const auto& f : failures) UNSCOPED_INFO(f);
  std::cout << "power-loss suite: " << fault_points << " fault points tested, " << bad_boots
            << " bad boots\n";
  CHECK(fault_points > 100);
  CHECK(bad_boots == 0);
}

TEST_CASE("the fault layer really loses unsynced data and undoes unsynced renames") {
  faregate::testing::TempDir data;
  const auto file = data.path() / "f";
  {
    PosixFileOps ops;
    REQUIRE(atomic_write_file(ops, file, as_bytes("old")));
  }
  // Cut at the directory sync: the rename happened but is not durable.
  FaultFileOps faulty(6);
  CHECK_FALSE(atomic_write_file(faulty, file, as_bytes("new")));
  CHECK(faulty.step_kinds().back() == testing::StepKind::kSyncDir);
  faulty.restore_after_power_loss(LossModel::kUnsyncedLost);
  PosixFileOps ops;
  CHECK(to_string(*ops.read(file, 100)) == "old");

  // A writer that renames before fsync is caught.
  FaultFileOps sloppy;
  auto h = sloppy.create(data.path() / "g.tmp");
  REQUIRE(h);
  REQUIRE(sloppy.append(*h, as_bytes("data")));
  REQUIRE(sloppy.close(*h));
  REQUIRE(sloppy.rename(data.path() / "g.tmp", data.path() / "g"));
  CHECK(sloppy.ordering_bug());
}

}  // namespace faregate::update
