#include "backoffice/app/firmware_commands.h"

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/bytes.h"

namespace faregate::backoffice_app {

namespace {

int fail(const std::string& message) {
  std::cerr << "faregate-backoffice: " << message << "\n";
  return 1;
}

nlohmann::json to_json(const firmware::Offer& offer) {
  return {{"group", offer.device_group},
          {"version", offer.image.version},
          {"security_counter", offer.image.security_counter},
          {"image_size", offer.image.image_size},
          {"image_sha256", to_hex(offer.image.image_sha256)},
          {"offered_utc_ms", offer.offered_utc_ms}};
}

void print(const firmware::Offer& offer) {
  std::cout << "group " << offer.device_group << ": firmware " << offer.image.version
            << ", security counter " << offer.image.security_counter << ", "
            << offer.image.image_size << " bytes, sha256 " << to_hex(offer.image.image_sha256)
            << "\n";
}

std::int64_t now_utc_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool FirmwareCommands::parsed() const { return firmware->parsed(); }

void add_firmware_commands(CLI::App& app, FirmwareCommands& c) {
  c.firmware = app.add_subcommand("firmware", "offer signed firmware images to device groups");
  c.firmware->require_subcommand(1);
  c.firmware->footer(R"(Examples:
  faregate-backoffice --data-dir ./bo firmware offer --image validator-1.5.0.fgi --group line-4
      validators started with --device-group line-4 download it on their next sync
  faregate-backoffice --data-dir ./bo firmware show --json
  faregate-backoffice --data-dir ./bo firmware withdraw --group line-4)");
  c.offer = c.firmware->add_subcommand(
      "offer", "copy a signed image (from faregate-sign) into DATA_DIR/firmware and offer it to a "
               "group, replacing the group's previous offer");
  c.offer->add_option("--image", c.image, "the signed image file")->required();
  c.offer->add_option("--group", c.group, "device group (letters, digits, '.', '_', '-')")
      ->required();
  c.offer->add_flag("--json", c.json, "print the offer as one JSON object");
  c.withdraw = c.firmware->add_subcommand("withdraw", "stop offering firmware to a group");
  c.withdraw->add_option("--group", c.group, "device group")->required();
  c.show = c.firmware->add_subcommand("show", "print every group's offer");
  c.show->add_flag("--json", c.json, "one JSON array");
}

int run_firmware_command(const FirmwareCommands& c, const std::filesystem::path& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto store = open_firmware_offers(data_dir);
  if (!store) return fail(store.error().describe());

  if (c.offer->parsed()) {
    auto offer = (*store)->offer(c.image, c.group, now_utc_ms());
    if (!offer) return fail(offer.error().describe());
    if (c.json) {
      std::cout << to_json(*offer).dump() << "\n";
    } else {
      std::cout << "offered: ";
      print(*offer);
    }
    return 0;
  }
  if (c.withdraw->parsed()) {
    auto removed = (*store)->withdraw(c.group);
    if (!removed) return fail(removed.error().describe());
    if (!*removed) return fail("group '" + c.group + "' has no firmware offer");
    std::cout << "group " << c.group << ": offer withdrawn\n";
    return 0;
  }
  auto offers = (*store)->list();
  if (!offers) return fail(offers.error().describe());
  if (c.json) {
    auto out = nlohmann::json::array();
    for (const auto& offer : *offers) out.push_back(to_json(offer));
    std::cout << out.dump() << "\n";
  } else if (offers->empty()) {
    std::cout << "no firmware offered\n";
  } else {
    for (const auto& offer : *offers) print(offer);
  }
  return 0;
}

Result<std::unique_ptr<firmware::FirmwareOffers>> open_firmware_offers(
    const std::filesystem::path& data_dir) {
  return firmware::FirmwareOffers::open(data_dir);
}

}  // namespace faregate::backoffice_app
