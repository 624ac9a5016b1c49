#include "tools/flash/flash_commands.h"

#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "firmware/update/file_ops.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/firmware_status.h"
#include "firmware/update/image_verifier.h"
#include "firmware/update/installer.h"

namespace faregate::tools {

namespace {

using update::Slot;

std::string slot_name(Slot s) { return std::string(1, update::slot_letter(s)); }

nlohmann::json slot_json(const update::FirmwareStatus& status, Slot s) {
  const auto& check = status.slots[update::slot_index(s)];
  nlohmann::json j = {
      {"slot", slot_name(s)}, {"present", check.present}, {"verified", check.verified()}};
  if (check.header) {
    j["firmware_version"] = check.header->firmware_version;
    j["security_counter"] = check.header->security_counter;
  }
  if (check.image_sha256) j["image_sha256"] = to_hex(*check.image_sha256);
  j["confirmed"] =
      check.verified() && status.state.confirmed_image[update::slot_index(s)] == check.image_sha256;
  if (!check.problem.empty()) j["problem"] = check.problem;
  return j;
}

std::string slot_line(const update::FirmwareStatus& status, Slot s) {
  const auto& check = status.slots[update::slot_index(s)];
  if (!check.present) return "empty";
  if (!check.verified()) return "REFUSED: " + check.problem;
  const bool confirmed = status.state.confirmed_image[update::slot_index(s)] == check.image_sha256;
  return fmt::format("version {}, security counter {}, signature OK{}",
                     check.header->firmware_version, check.header->security_counter,
                     confirmed ? ", confirmed (reported healthy)" : "");
}

std::string role_name(update::SlotRole role) {
  return role == update::SlotRole::kActive ? "active" : "pending";
}

}  // namespace

int run_install(const InstallArgs& args, const update::PublicKey& trusted, std::ostream& out,
                std::ostream& err) {
  update::PosixFileOps ops;
  const auto refuse = [&](const std::string& reason) {
    if (args.json) {
      out << nlohmann::json{{"result", "refused"},
                            {"image", args.image.string()},
                            {"reason", reason}}
                 .dump()
          << "\n";
    }
    err << "REFUSED: " << reason << "\n"
        << "The validator keeps its current image.\n";
    return kFlashRefused;
  };
  std::error_code ec;
  if (!std::filesystem::is_directory(args.data_dir, ec)) {
    err << "faregate-flash: data directory " << args.data_dir.string() << " does not exist\n";
    return kFlashError;
  }
  auto image = ops.read(args.image, update::kMaxImageBytes);
  if (!image) {
    err << "faregate-flash: " << image.error().message << "\n";
    return kFlashError;
  }

  // Before: the image itself (the installer checks it again, with the device's counter).
  auto verified = update::verify_image(*image, trusted);
  if (!verified) return refuse(verified.error().message);
  err << fmt::format("verified {}: version {}, security counter {}, signed by key {}\n",
                     args.image.string(), verified->header.firmware_version,
                     verified->header.security_counter, update::short_key_id(trusted.key_id()));

  int last_tenth = -1;
  update::InstallOptions options;
  options.progress = [&](std::uint64_t done, std::uint64_t total) {
    const int tenth = total == 0 ? 10 : static_cast<int>(done * 10 / total);
    if (tenth == last_tenth) return;
    last_tenth = tenth;
    err << fmt::format("writing: {:3}% ({} of {} bytes)\n", tenth * 10, done, total);
  };
  auto installed = update::install_image(args.data_dir, *image, trusted, ops, options);
  if (!installed) {
    if (installed.error().code == ErrorCode::kIo ||
        installed.error().code == ErrorCode::kNotFound) {
      err << "faregate-flash: install failed: " << installed.error().message << "\n"
          << "The validator keeps its current image.\n";
      return kFlashError;
    }
    return refuse(installed.error().message);
  }

  // After: read the data directory back as the launcher will.
  auto status = update::read_firmware_status(update::FirmwareDir(args.data_dir), ops, trusted);
  const auto& check =
      status ? status->slots[update::slot_index(installed->slot)] : update::SlotCheck{};
  if (!status || check.image_sha256 != installed->image_sha256) {
    err << "faregate-flash: slot " << slot_name(installed->slot)
        << " does not verify after the install: "
        << (status ? check.problem : status.error().message) << "\n";
    return kFlashError;
  }
  err << fmt::format("verified slot {} after writing: signature OK\n", slot_name(installed->slot));

  const std::string what = installed->role == update::SlotRole::kActive
                               ? "active: the validator runs it at its next start"
                               : "pending: the validator boots it in trial mode at its next start "
                                 "and keeps it only if it "
                                 "reports healthy";
  if (args.json) {
    out << nlohmann::json{{"result",
                           installed->already_installed ? "already_installed" : "installed"},
                          {"image", args.image.string()},
                          {"slot", slot_name(installed->slot)},
                          {"role", role_name(installed->role)},
                          {"firmware_version", installed->header.firmware_version},
                          {"security_counter", installed->header.security_counter},
                          {"image_sha256", to_hex(installed->image_sha256)}}
               .dump()
        << "\n";
  } else {
    out << fmt::format("{} version {} in slot {}, {}\n",
                       installed->already_installed ? "already installed:" : "installed:",
                       installed->header.firmware_version, slot_name(installed->slot), what);
  }
  return kFlashOk;
}

int run_status(const StatusArgs& args, const update::PublicKey& trusted, std::ostream& out,
               std::ostream& err) {
  std::error_code ec;
  if (!std::filesystem::is_directory(args.data_dir, ec)) {
    err << "faregate-flash: data directory " << args.data_dir.string() << " does not exist\n";
    return kFlashError;
  }
  update::PosixFileOps ops;
  auto status = update::read_firmware_status(update::FirmwareDir(args.data_dir), ops, trusted);
  if (!status) {
    err << "faregate-flash: " << status.error().message << "\n";
    return kFlashError;
  }
  const auto& st = status->state;
  if (args.json) {
    nlohmann::json j = {{"data_dir", args.data_dir.string()},
                        {"trusted_key_id", to_hex(trusted.key_id())},
                        {"security_counter", st.security_counter},
                        {"boot_count", st.boot_count},
                        {"failed_boots", st.failed_boots},
                        {"state_rebuilt", status->state_rebuilt},
                        {"notes", status->notes}};
    j["active"] = st.active ? nlohmann::json(slot_name(*st.active)) : nlohmann::json(nullptr);
    j["pending"] = st.pending ? nlohmann::json(slot_name(*st.pending)) : nlohmann::json(nullptr);
    j["trial_boots"] = st.trial_boots;
    j["slots"] =
        nlohmann::json::array({slot_json(*status, Slot::kA), slot_json(*status, Slot::kB)});
    out << j.dump() << "\n";
    return kFlashOk;
  }
  const auto version_of = [&](Slot s) {
    const auto& h = status->slots[update::slot_index(s)].header;
    return h ? fmt::format("version {}", h->firmware_version) : std::string("no readable image");
  };
  out << fmt::format("data directory:   {}\n", args.data_dir.string());
  out << fmt::format(
      "runs:             {}\n",
      st.active ? fmt::format("slot {}, {}{}", slot_name(*st.active), version_of(*st.active),
                              st.failed_boots > 0 ? fmt::format(" ({} boot(s) since its last "
                                                                "health report)",
                                                                st.failed_boots)
                                                  : "")
                : std::string("nothing (no image installed)"));
  out << fmt::format(
      "pending:          {}\n",
      st.pending ? fmt::format("slot {}, {}, {} trial boot(s) started", slot_name(*st.pending),
                               version_of(*st.pending), st.trial_boots)
                 : std::string("nothing"));
  out << fmt::format("security counter: {} (images below it are refused)\n", st.security_counter);
  out << fmt::format("slot a:           {}\n", slot_line(*status, Slot::kA));
  out << fmt::format("slot b:           {}\n", slot_line(*status, Slot::kB));
  for (const auto& note : status->notes) out << "note:             " << note << "\n";
  return kFlashOk;
}

}  // namespace faregate::tools
