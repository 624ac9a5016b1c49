// The validator's maintenance port on loopback: a real MaintenanceServer (mutual TLS, technician
// certificates only) over a real data directory, driven by the client faregate-flash uses and by
// the faregate-flash program itself. Certificates come from the faregate-keys code.

#include <catch2/catch.hpp>

#include <ctime>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "backoffice/ingest/ingest_server.h"
#include "faregate/v1/maintenance.pb.h"
#include "firmware/maintenance/maintenance_client.h"
#include "firmware/maintenance/maintenance_server.h"
#include "firmware/maintenance/maintenance_session.h"
#include "firmware/sync/frame_client.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/firmware_status.h"
#include "firmware/update/installer.h"
#include "tests/firmware/sync/backoffice_harness.h"
#include "tests/firmware/update/process_runner.h"
#include "tests/firmware/update/update_test_support.h"
#include "tools/keys/pki_directory.h"

using faregate::Bytes;
using faregate::ErrorCode;
using faregate::keys::Role;
using faregate::maintenance::Endpoint;
using faregate::maintenance::MaintenanceServer;
using faregate::maintenance::MaintenanceServerOptions;
using faregate::maintenance::MaintenanceSession;
using faregate::testing::TempDir;
using faregate::testing::TestPki;
using faregate::update::Slot;
namespace tls = faregate::tls;
namespace update = faregate::update;
namespace ut = faregate::update::testing;
namespace v1 = faregate::v1;
using namespace std::chrono_literals;

namespace {

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

void write_file(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::shared_ptr<const tls::ClientContext> client(const TestPki& pki,
                                                 const faregate::keys::IssuedKeyPair& issued,
                                                 const std::string& ca_pem) {
  return tls::ClientContext::create(
             {issued.certificate_pem, issued.private_key_pem, ca_pem,
              std::string(tls::kMaintenanceServerName)})
      .value();
  (void)pki;
}

// A validator data directory running 1.0 (signed with seeded key 1) with its maintenance port
// open on loopback.
struct Gate {
  TestPki pki{1};
  faregate::crypto::Drbg drbg = faregate::crypto::Drbg::deterministic(9);
  update::SigningKey key = ut::seeded_key(1);
  TempDir data;
  Bytes running = ut::make_image(key, "1.0", 1);
  std::unique_ptr<MaintenanceServer> server;
  std::uint16_t port = 0;
  std::vector<update::SlotState> installs;

  Gate() {
    REQUIRE(update::install_image(data.path(), running, key.public_key()));
    start("");
  }

  // (Re)starts the port, with the operator CA's revocation list `crl` (PEM; empty: none).
  void start(const std::string& crl) {
    if (server) server->stop();
    const auto maintenance = issue(Role::kMaintenance, "gate-1");
    auto context = tls::ServerContext::create({maintenance.certificate_pem,
                                               maintenance.private_key_pem, pki.ca_pem(), crl},
                                              nullptr, tls::ClientRole::kTechnician);
    REQUIRE(context);
    MaintenanceServerOptions options;
    options.tls = *context;
    options.device = {data.path(), "gate-1", "1.0"};
    options.idle_timeout = 10s;
    options.on_installed = [this](const update::SlotState& s) { installs.push_back(s); };
    server = std::make_unique<MaintenanceServer>(options, key.public_key());
    port = server->start().value();
  }

  faregate::keys::IssuedKeyPair issue(Role role, const std::string& name) {
    return pki.ca().issue(role, name, faregate::keys::validity_for_days(pki.now(), 30), drbg).value();
  }
  Endpoint technician(const std::string& name = "alice") {
    return Endpoint{"127.0.0.1", port, client(pki, issue(Role::kTechnician, name), pki.ca_pem()), 10s};
  }
  std::map<std::string, Bytes> slots() { return ut::snapshot(data.path() / "firmware"); }
};

}  // namespace

TEST_CASE("a technician flashes an image over the maintenance port: verified, installed in the inactive slot, read back and reported") {
  Gate gate;
  const Bytes next = ut::make_image(gate.key, "1.1", 2, std::string(600'000, 'x'));
  std::vector<std::uint64_t> progress;
  auto outcome = faregate::maintenance::flash_image(
      gate.technician(), next, [&](std::uint64_t sent, std::uint64_t) { progress.push_back(sent); });
  REQUIRE(outcome);
  REQUIRE_FALSE(outcome->refused);
  REQUIRE(outcome->installed);
  CHECK(outcome->device_id == "gate-1");
  CHECK(outcome->installed->slot() == "b");
  CHECK(outcome->installed->role() == "pending");
  CHECK(outcome->installed->version() == "1.1");
  CHECK(outcome->installed->status().pending_slot() == "b");
  CHECK(outcome->installed->status().slots(1).verified());
  REQUIRE(progress.size() == 3);  // 256 KiB chunks
  CHECK(progress.back() == next.size());
  CHECK(read_file(update::FirmwareDir(gate.data.path()).slot_file(Slot::kB)) == next);
  CHECK(read_file(update::FirmwareDir(gate.data.path()).slot_file(Slot::kA)) == gate.running);
  REQUIRE(gate.installs.size() == 1);

  auto status = faregate::maintenance::request_status(gate.technician("bob"));
  REQUIRE(status);
  CHECK(status->device_id() == "gate-1");
  CHECK(status->running_version() == "1.0");
  CHECK(status->active_slot() == "a");
  CHECK(status->pending_slot() == "b");
  CHECK(status->slots(0).version() == "1.0");
  CHECK(status->slots(1).version() == "1.1");
  CHECK(gate.server->counters().installs == 1);
}

TEST_CASE("the maintenance port refuses a device certificate, a back-office certificate and a technician of another CA") {
  Gate gate;
  const auto before = gate.slots();
  TestPki other(2);
  auto other_drbg = faregate::crypto::Drbg::deterministic(3);
  const auto stranger =
      other.ca().issue(Role::kTechnician, "mallory", faregate::keys::validity_for_days(other.now(), 30), other_drbg).value();
  const std::vector<std::pair<std::string, std::shared_ptr<const tls::ClientContext>>> clients = {
      {"device", client(gate.pki, gate.issue(Role::kDevice, "gate-2"), gate.pki.ca_pem())},
      {"back office", client(gate.pki, gate.pki.server(), gate.pki.ca_pem())},
      {"technician of another CA", client(other, stranger, gate.pki.ca_pem())},
  };
  for (const auto& [name, context] : clients) {
    DYNAMIC_SECTION(name) {
      auto status = faregate::maintenance::request_status(Endpoint{"127.0.0.1", gate.port, context, 10s});
      REQUIRE_FALSE(status);
      CHECK((status.error().code == ErrorCode::kCrypto || status.error().code == ErrorCode::kUnavailable));
      auto flashed = faregate::maintenance::flash_image(Endpoint{"127.0.0.1", gate.port, context, 10s},
                                                        ut::make_image(gate.key, "1.1", 2), {});
      CHECK_FALSE(flashed);
      CHECK(gate.slots() == before);
      // The port still serves a technician afterwards; it serves one connection after the
      // other, so by the time this answer comes both refusals are counted.
      CHECK(faregate::maintenance::request_status(gate.technician()));
      CHECK(gate.server->counters().refused_handshakes == 2);
      CHECK(gate.server->counters().installs == 0);
    }
  }
}

TEST_CASE("a revoked technician certificate is refused at a maintenance port that holds the revocation list") {
  Gate gate;
  const auto alice = gate.issue(Role::kTechnician, "alice");
  const Endpoint as_alice{"127.0.0.1", gate.port, client(gate.pki, alice, gate.pki.ca_pem()), 10s};
  REQUIRE(faregate::maintenance::request_status(as_alice));
  gate.start(gate.pki.revocation_list({alice.serial_hex}));
  const Endpoint again{"127.0.0.1", gate.port, as_alice.tls, 10s};
  auto refused = faregate::maintenance::request_status(again);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == ErrorCode::kCrypto);
  CHECK(faregate::maintenance::request_status(gate.technician("bob")));
  CHECK(gate.server->counters().refused_handshakes == 1);
}

TEST_CASE("faregate-keys revokes a technician's certificates by name, and a stolen validator's maintenance certificate with its device certificate") {
  TempDir dir;
  auto drbg = faregate::crypto::Drbg::deterministic(12);
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  auto pki = faregate::keys::PkiDirectory::init(dir.path() / "pki", "Operator CA", "Metro", 30, now, drbg);
  REQUIRE(pki);
  const auto alice = pki->issue_technician(dir.path() / "alice", "alice", 30, now, drbg).value();
  REQUIRE(pki->issue_device(dir.path() / "g1", "gate-1", 30, now, drbg));
  REQUIRE(pki->issue_maintenance(dir.path() / "g1", "gate-1", 30, now, drbg));
  // A device revocation does not touch a technician of the same name, and the other way round.
  CHECK(pki->revoke_technician("gate-1", "", now, drbg).error().code == ErrorCode::kNotFound);
  auto revoked = pki->revoke_technician("alice", "", now, drbg, dir.path() / "installed.crl");
  REQUIRE(revoked);
  CHECK(revoked->serial_hex == alice.serial_hex);
  auto device = pki->revoke_device("gate-1", "", now, drbg);
  REQUIRE(device);
  CHECK(std::count(device->serial_hex.begin(), device->serial_hex.end(), ',') == 1);  // two serials
  CHECK(pki->revoked().size() == 3);
  // The register reads back with the new roles.
  auto reopened = faregate::keys::PkiDirectory::open(dir.path() / "pki");
  REQUIRE(reopened);
  CHECK(reopened->issued().size() == 3);
  CHECK(reopened->revoked().size() == 3);
  CHECK(std::filesystem::exists(dir.path() / "installed.crl"));
}

TEST_CASE("a tampered image, one signed by another key and one below the security counter are refused by the validator, which keeps its slots and keeps serving") {
  Gate gate;
  const auto before = gate.slots();
  Bytes tampered = ut::make_image(gate.key, "1.1", 2, std::string(5000, 'x'));
  tampered[1000] ^= 0x01;
  struct Case {
    std::string name;
    Bytes image;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"tampered payload", tampered, "payload SHA-256 does not match the header"},
      {"another key", ut::make_image(ut::seeded_key(2), "6.6", 9), "signed by a different key"},
      {"lower counter", ut::make_image(gate.key, "0.9", 0), "lower than 1"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      auto outcome = faregate::maintenance::flash_image(gate.technician(), c.image, {});
      REQUIRE(outcome);
      REQUIRE(outcome->refused);
      CHECK(outcome->refused->code() == "image_refused");
      CHECK_THAT(outcome->refused->message(), Catch::Contains(c.message));
      CHECK_FALSE(outcome->installed);
      CHECK(gate.slots() == before);
      CHECK(gate.installs.empty());
      auto status = faregate::maintenance::request_status(gate.technician());
      REQUIRE(status);
      CHECK(status->pending_slot().empty());
    }
  }
}

TEST_CASE("a maintenance session checks every step of a transfer before it installs anything") {
  TempDir data;
  const auto key = ut::seeded_key(1);
  REQUIRE(update::install_image(data.path(), ut::make_image(key, "1.0", 1), key.public_key()));
  const Bytes image = ut::make_image(key, "1.1", 2, std::string(3000, 'y'));
  const auto sha = faregate::crypto::sha256(image);
  const auto begin = [&](std::uint64_t size, const std::string& digest) {
    v1::MaintenanceRequest r;
    r.mutable_begin()->set_image_size(size);
    r.mutable_begin()->set_image_sha256(digest);
    return r;
  };
  const auto data_at = [&](std::uint64_t offset, std::size_t n) {
    v1::MaintenanceRequest r;
    r.mutable_data()->set_offset(offset);
    r.mutable_data()->set_data(std::string(image.begin() + static_cast<std::ptrdiff_t>(offset),
                                           image.begin() + static_cast<std::ptrdiff_t>(offset + n)));
    return r;
  };
  v1::MaintenanceRequest end;
  end.mutable_end();
  const std::string digest(sha.begin(), sha.end());
  const auto before = ut::snapshot(data.path() / "firmware");
  const faregate::maintenance::DeviceInfo device{data.path(), "gate-1", "1.0"};

  SECTION("a chunk at the wrong offset") {
    MaintenanceSession s(device, key.public_key());
    REQUIRE(s.handle(begin(image.size(), digest)).has_progress());
    REQUIRE(s.handle(data_at(0, 1000)).progress().received() == 1000);
    const auto r = s.handle(data_at(500, 10));
    CHECK(r.error().code() == "bad_request");
    CHECK(s.finished());
  }
  SECTION("more bytes than announced") {
    MaintenanceSession s(device, key.public_key());
    REQUIRE(s.handle(begin(1000, digest)).has_progress());
    CHECK(s.handle(data_at(0, 1001)).error().code() == "bad_request");
  }
  SECTION("an image larger than any image may be") {
    MaintenanceSession s(device, key.public_key());
    CHECK(s.handle(begin(update::kMaxImageBytes + 1, digest)).error().code() == "image_too_large");
  }
  SECTION("an end before the whole image") {
    MaintenanceSession s(device, key.public_key());
    REQUIRE(s.handle(begin(image.size(), digest)).has_progress());
    REQUIRE(s.handle(data_at(0, 100)).has_progress());
    CHECK(s.handle(end).error().code() == "bad_request");
  }
  SECTION("bytes damaged in transfer") {
    MaintenanceSession s(device, key.public_key());
    std::string wrong = digest;
    wrong[0] ^= 1;
    REQUIRE(s.handle(begin(image.size(), wrong)).has_progress());
    REQUIRE(s.handle(data_at(0, image.size())).has_progress());
    CHECK(s.handle(end).error().code() == "sha256_mismatch");
  }
  SECTION("data before begin, and an empty request") {
    MaintenanceSession s(device, key.public_key());
    CHECK(s.handle(data_at(0, 10)).error().code() == "bad_request");
    MaintenanceSession t(device, key.public_key());
    CHECK(t.handle(v1::MaintenanceRequest()).error().code() == "bad_request");
  }
  CHECK(ut::snapshot(data.path() / "firmware") == before);
}

TEST_CASE("the back office refuses a technician certificate as a device") {
  faregate::testing::BackofficeHarness bo;
  auto drbg = faregate::crypto::Drbg::deterministic(4);
  const auto technician = bo.pki()
                              .ca()
                              .issue(Role::kTechnician, "alice",
                                     faregate::keys::validity_for_days(bo.pki().now(), 30), drbg)
                              .value();
  auto context = tls::ClientContext::create(bo.pki().client_pem(technician)).value();
  faregate::sync::FrameClient as_device(faregate::framing::kDefaultMaxFrameBytes, context);
  auto connected = as_device.connect("127.0.0.1", bo.port(), 5s);
  REQUIRE_FALSE(connected);
  CHECK(connected.error().code == ErrorCode::kCrypto);
  // A real device of the same CA still gets in.
  faregate::sync::FrameClient device(faregate::framing::kDefaultMaxFrameBytes, bo.device("gate-1"));
  CHECK(device.connect("127.0.0.1", bo.port(), 5s));
}

TEST_CASE("faregate-keys issue-technician and faregate-flash --device flash and report over the maintenance port") {
  Gate gate;
  TempDir tech;
  // The technician's files as faregate-keys writes them, from a CA folder.
  auto drbg = faregate::crypto::Drbg::deterministic(11);
  auto pki = faregate::keys::PkiDirectory::init(tech.path() / "pki", "Operator CA", "Metro", 30,
                                                gate.pki.now(), drbg);
  REQUIRE(pki);
  auto written = pki->issue_technician(tech.path() / "alice", "alice", 30, gate.pki.now(), drbg);
  REQUIRE(written);
  CHECK(written->files.size() == 3);
  CHECK(pki->issued().back().role == "technician");
  // This gate trusts its own test CA; give the technician a certificate from it in the same files.
  const auto issued = gate.issue(Role::kTechnician, "alice");
  write_text(tech.path() / "alice" / "technician.crt", issued.certificate_pem);
  write_text(tech.path() / "alice" / "technician.key", issued.private_key_pem);
  write_text(tech.path() / "alice" / "operator-ca.crt", gate.pki.ca_pem());
  const Bytes next = ut::make_image(gate.key, "1.1", 2, std::string(300'000, 'z'));
  write_file(tech.path() / "next.fgi", next);
  Bytes tampered = next;
  tampered[5000] ^= 0x40;
  write_file(tech.path() / "tampered.fgi", tampered);

  const std::string device = "127.0.0.1:" + std::to_string(gate.port);
  const auto flash = [&](std::vector<std::string> extra, const std::string& who = "alice") {
    std::vector<std::string> argv = {FAREGATE_FLASH_BIN, "--device", device,
                                     "--cert", (tech.path() / who / "technician.crt").string(),
                                     "--key", (tech.path() / who / "technician.key").string(),
                                     "--ca", (tech.path() / who / "operator-ca.crt").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto result = ut::run_process(argv);
    UNSCOPED_INFO(result.output);
    return result;
  };

  auto refused = flash({"--image", (tech.path() / "tampered.fgi").string()});
  CHECK(refused.status == 2);
  CHECK_THAT(refused.output, Catch::Contains("refused the image (image_refused)") &&
                                 Catch::Contains("keeps running its current image"));

  auto installed = flash({"--image", (tech.path() / "next.fgi").string()});
  CHECK(installed.status == 0);
  CHECK_THAT(installed.output, Catch::Contains("sent 300") && Catch::Contains("(100%)"));
  CHECK_THAT(installed.output, Catch::Contains("gate-1: firmware 1.1 installed in slot b"));

  auto status = flash({"--status", "--json"});
  REQUIRE(status.status == 0);
  const auto json = nlohmann::json::parse(status.output);
  CHECK(json["device_id"] == "gate-1");
  CHECK(json["active"] == "a");
  CHECK(json["pending"] == "b");
  CHECK(json["slots"][1]["version"] == "1.1");

  // A device certificate in the technician's place is refused at the handshake.
  const auto device_cert = gate.issue(Role::kDevice, "gate-7");
  std::filesystem::create_directories(tech.path() / "gate7");
  write_text(tech.path() / "gate7" / "technician.crt", device_cert.certificate_pem);
  write_text(tech.path() / "gate7" / "technician.key", device_cert.private_key_pem);
  write_text(tech.path() / "gate7" / "operator-ca.crt", gate.pki.ca_pem());
  auto as_device = flash({"--status"}, "gate7");
  CHECK(as_device.status == 1);
  CHECK_THAT(as_device.output, Catch::Contains("TLS handshake"));
}
