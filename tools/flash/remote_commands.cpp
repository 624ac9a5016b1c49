#include "tools/flash/remote_commands.h"

#include <charconv>
#include <fstream>
#include <iterator>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "firmware/maintenance/maintenance_client.h"
#include "tools/flash/flash_commands.h"

namespace faregate::tools {

namespace v1 = faregate::v1;

namespace {

Result<maintenance::Endpoint> endpoint_for(const RemoteArgs& args) {
  const auto colon = args.device.rfind(':');
  unsigned port = 0;
  if (colon == std::string::npos || colon == 0) {
    return make_error(ErrorCode::kInvalidArgument, "--device must be HOST:PORT, found '" + args.device + "'");
  }
  const char* first = args.device.data() + colon + 1;
  const char* last = args.device.data() + args.device.size();
  if (auto [end, ec] = std::from_chars(first, last, port);
      ec != std::errc() || end != last || port == 0 || port > 65535) {
    return make_error(ErrorCode::kInvalidArgument, "--device port must be 1..65535");
  }
  auto context = maintenance::technician_context(args.certificate, args.key, args.ca);
  if (!context) return std::unexpected(context.error());
  maintenance::Endpoint endpoint;
  endpoint.host = args.device.substr(0, colon);
  endpoint.port = static_cast<std::uint16_t>(port);
  endpoint.tls = *context;
  return endpoint;
}

nlohmann::json report_json(const v1::SlotReport& r) {
  nlohmann::json j = {{"device_id", r.device_id()},
                      {"running_version", r.running_version()},
                      {"active", r.active_slot().empty() ? nlohmann::json(nullptr) : nlohmann::json(r.active_slot())},
                      {"pending", r.pending_slot().empty() ? nlohmann::json(nullptr) : nlohmann::json(r.pending_slot())},
                      {"security_counter", r.security_counter()},
                      {"trial_boots", r.trial_boots()},
                      {"slots", nlohmann::json::array()}};
  for (const auto& s : r.slots()) {
    j["slots"].push_back({{"slot", s.slot()},
                          {"present", s.present()},
                          {"verified", s.verified()},
                          {"version", s.version()},
                          {"security_counter", s.security_counter()},
                          {"image_sha256", to_hex(as_bytes(s.image_sha256()))},
                          {"problem", s.problem()}});
  }
  return j;
}

std::string slot_version(const v1::SlotReport& r, const std::string& slot) {
  for (const auto& s : r.slots()) {
    if (s.slot() == slot) return s.version().empty() ? std::string("no readable image") : "version " + s.version();
  }
  return "?";
}

void print_report(const v1::SlotReport& r, std::ostream& out) {
  out << fmt::format("device:           {}\n", r.device_id());
  out << fmt::format("running:          {}\n", r.running_version());
  out << fmt::format("active:           {}\n", r.active_slot().empty() ? std::string("none")
                                                    : "slot " + r.active_slot() + ", " + slot_version(r, r.active_slot()));
  out << fmt::format("pending:          {}\n", r.pending_slot().empty()
                                                    ? std::string("nothing")
                                                    : fmt::format("slot {}, {}, {} trial boot(s) started", r.pending_slot(),
                                                                  slot_version(r, r.pending_slot()), r.trial_boots()));
  out << fmt::format("security counter: {}\n", r.security_counter());
  for (const auto& s : r.slots()) {
    out << fmt::format("slot {}:           {}\n", s.slot(),
                       !s.present() ? std::string("empty")
                       : s.verified() ? fmt::format("version {}, security counter {}, verified", s.version(), s.security_counter())
                                      : "does not verify: " + s.problem());
  }
}

// The validator refuses a certificate that is not a technician's with a fatal alert; say what
// that usually means.
std::string hint(const Error& error) {
  if (error.code != ErrorCode::kCrypto) return {};
  return "\n  (the validator accepts only technician certificates from its operator CA: "
         "faregate-keys issue-technician; and faregate-flash accepts only a validator's "
         "maintenance-port certificate from the CA given with --ca)";
}

}  // namespace

int run_remote_status(const RemoteArgs& args, std::ostream& out, std::ostream& err) {
  auto endpoint = endpoint_for(args);
  if (!endpoint) {
    err << "faregate-flash: " << endpoint.error().message << "\n";
    return kFlashError;
  }
  auto report = maintenance::request_status(*endpoint);
  if (!report) {
    err << "faregate-flash: " << report.error().message << hint(report.error()) << "\n";
    return kFlashError;
  }
  if (args.json) {
    out << report_json(*report).dump() << "\n";
  } else {
    print_report(*report, out);
  }
  return kFlashOk;
}

int run_remote_install(const RemoteArgs& args, const std::filesystem::path& image_file,
                       std::ostream& out, std::ostream& err) {
  auto endpoint = endpoint_for(args);
  if (!endpoint) {
    err << "faregate-flash: " << endpoint.error().message << "\n";
    return kFlashError;
  }
  std::ifstream in(image_file, std::ios::binary);
  if (!in) {
    err << "faregate-flash: cannot read " << image_file.string() << "\n";
    return kFlashError;
  }
  const Bytes image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int last_percent = -1;
  auto outcome = maintenance::flash_image(*endpoint, image, [&](std::uint64_t sent, std::uint64_t total) {
    const int percent = static_cast<int>(sent * 100 / std::max<std::uint64_t>(total, 1));
    if (percent != last_percent) {
      last_percent = percent;
      err << fmt::format("sent {} of {} bytes ({}%)\n", sent, total, percent);
    }
  });
  if (!outcome) {
    err << "faregate-flash: " << outcome.error().message << hint(outcome.error()) << "\n";
    return kFlashError;
  }
  if (outcome->refused) {
    if (args.json) {
      out << nlohmann::json{{"device_id", outcome->device_id},
                            {"refused", outcome->refused->code()},
                            {"message", outcome->refused->message()}}
                 .dump()
          << "\n";
    }
    err << "faregate-flash: the validator refused the image (" << outcome->refused->code()
        << "): " << outcome->refused->message() << "; it keeps running its current image\n";
    return kFlashRefused;
  }
  const auto& installed = *outcome->installed;
  if (args.json) {
    out << nlohmann::json{{"device_id", outcome->device_id},
                          {"installed", installed.version()},
                          {"slot", installed.slot()},
                          {"role", installed.role()},
                          {"security_counter", installed.security_counter()},
                          {"already_installed", installed.already_installed()},
                          {"status", report_json(installed.status())}}
               .dump()
        << "\n";
    return kFlashOk;
  }
  out << fmt::format("{}: firmware {} {} slot {} ({}), verified before and after writing\n",
                     outcome->device_id, installed.version(),
                     installed.already_installed() ? "was already in" : "installed in",
                     installed.slot(),
                     installed.role() == "pending" ? "boots in trial mode at the next restart"
                                                   : "active");
  print_report(installed.status(), out);
  return kFlashOk;
}

}  // namespace faregate::tools
