// The whole path of a tap on real components: virtual card -> in-process validator (real
// journal file, real pipeline) -> sync agent over mutual TLS on real loopback TCP (a throw-away
// PKI provisioned as faregate-keys does) -> a real faregate-backoffice process -> its SQLite
// store file.

#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>
#include <sstream>

#include "backoffice/store/sqlite_tap_store.h"
#include "common/bytes.h"
#include "simulator/cards/emv_card.h"
#include "hal/sim/manual_clock.h"
#include "hal/sim/static_key_store.h"
#include "simulator/cards/card_catalog.h"
#include "simulator/network/backoffice_process.h"
#include "simulator/network/simulated_keys.h"
#include "simulator/network/virtual_validator.h"
#include "tests/integration/raw_connection.h"
#include "tests/integration/tcp_relay.h"
#include "tests/support/temp_dir.h"

using namespace faregate;
using faregate::simulator::BackofficeProcess;
using faregate::simulator::VirtualValidator;
using faregate::testing::TcpRelay;
using faregate::testing::TempDir;

namespace {

BackofficeProcess start_backoffice(const std::filesystem::path& data_dir,
                                   std::vector<std::string> extra_args = {}) {
  auto process = BackofficeProcess::start(FAREGATE_BACKOFFICE_BIN, data_dir, 0, extra_args);
  REQUIRE(process);
  return std::move(*process);
}

std::unique_ptr<VirtualValidator> make_validator(const std::filesystem::path& dir,
                                                 const std::string& device_id, std::uint16_t port,
                                                 const hal::Clock& clock,
                                                 const hal::KeyStore& keys,
                                                 std::size_t batch_taps = 100) {
  tap::TapPipelineConfig pc;
  pc.device_id = device_id;
  pc.stop_id = "central";
  pc.role = faregate::v1::VALIDATOR_ROLE_ENTRY;
  pc.firmware_version = "test";
  pc.anti_passback = std::chrono::seconds(0);
  sync::SyncOptions so;
  so.port = port;
  so.batch_taps = batch_taps;
  so.io_timeout = std::chrono::seconds(10);
  // Mutual TLS with a back office that start_backoffice provisioned (its CA is in dir/pki);
  // plain TCP with one started with --insecure-dev (no CA there).
  if (std::filesystem::exists(dir / "pki")) {
    so.tls = simulator::provision_device_tls(dir / "pki", device_id).value();
  }
  static const auto ca_keys = simulator::simulated_ca_keys().value();
  auto v = VirtualValidator::create(dir / device_id / "journal.db", pc, so, clock, keys, ca_keys);
  REQUIRE(v);
  return std::move(*v);
}

// Taps `count` different cards (a new rider every tap), one second apart.
void tap_riders(VirtualValidator& v, hal::sim::ManualClock& clock, int count, std::uint64_t seed0) {
  for (int i = 0; i < count; ++i) {
    auto card = simulator::make_card("visa", seed0 + static_cast<std::uint64_t>(i));
    REQUIRE(card);
    auto outcome = v.present(*card);
    REQUIRE(outcome);
    REQUIRE(outcome->record.decision() == faregate::v1::DECISION_ACCEPT);
    clock.advance_ms(1000);
  }
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The PAN the simulator gave a virtual card (the test needs it to search for leaks).
std::string pan_of(std::string_view kind, std::uint64_t seed) {
  return std::string(simulator::card_profile(kind, seed).value().pan);
}

}  // namespace

TEST_CASE("taps travel from two validators to the back-office store over TCP") {
  TempDir dir;
  auto backoffice = start_backoffice(dir.path() / "backoffice");
  hal::sim::ManualClock clock;
  auto keys = simulator::simulated_key_store(42).value();
  auto a = make_validator(dir.path(), "central-entry-1", backoffice.port(), clock, keys);
  auto b = make_validator(dir.path(), "central-entry-2", backoffice.port(), clock, keys);
  tap_riders(*a, clock, 12, 100);
  tap_riders(*b, clock, 7, 200);

  auto ra = a->sync();
  REQUIRE(ra);
  CHECK(ra->taps_sent == 12);
  CHECK(ra->acknowledged_through == 12);
  auto rb = b->sync();
  REQUIRE(rb);
  CHECK(rb->acknowledged_through == 7);
  CHECK(a->journal().stats()->unsynced == 0);

  auto store = store::SqliteTapStore::open(dir.path() / "backoffice" / "taps.db");
  REQUIRE(store);
  CHECK((*store)->tap_count().value() == 19);
  CHECK((*store)->stored_through("central-entry-1").value() == 12);
  CHECK((*store)->stored_through("central-entry-2").value() == 7);
  // The stored record is the journaled record, field for field.
  auto stored = (*store)->taps_of_device("central-entry-1", 1, 1);
  REQUIRE(stored);
  REQUIRE(stored->size() == 1);
  CHECK(stored->front().card_token().size() == 32);
  CHECK(stored->front().stop_id() == "central");
  CHECK(stored->front().reason() == "ok");

  // A second sync with nothing new sends nothing and keeps the watermark.
  auto again = a->sync();
  REQUIRE(again);
  CHECK(again->taps_sent == 0);
  CHECK(again->server_had_through == 12);
}

TEST_CASE("the PAN appears nowhere in the journal, the back-office store or on the wire") {
  TempDir dir;
  auto backoffice = start_backoffice(dir.path() / "backoffice");
  TcpRelay relay(backoffice.port());
  hal::sim::ManualClock clock;
  auto keys = simulator::simulated_key_store(42).value();
  auto v = make_validator(dir.path(), "harbour-entry-1", relay.port(), clock, keys);

  auto card = simulator::make_card("mastercard", 4242);
  REQUIRE(card);
  const std::string pan = pan_of("mastercard", 4242);
  REQUIRE(pan.size() >= 12);
  auto outcome = v->present(*card);
  REQUIRE(outcome);
  REQUIRE(outcome->record.decision() == faregate::v1::DECISION_ACCEPT);
  CHECK(outcome->record.pan_last4() == pan.substr(pan.size() - 4));
  REQUIRE(v->sync());
  relay.stop();

  auto packed = from_hex(pan.size() % 2 ? pan + "f" : pan);
  REQUIRE(packed);
  const std::string pan_bcd(packed->begin(), packed->end());
  std::vector<std::pair<std::string, std::string>> places = {
      {"wire (validator -> back office)", relay.client_bytes()},
      {"wire (back office -> validator)", relay.server_bytes()},
  };
  for (const auto& f : {dir.path() / "harbour-entry-1" / "journal.db",
                        dir.path() / "harbour-entry-1" / "journal.db-wal",
                        dir.path() / "backoffice" / "taps.db",
                        dir.path() / "backoffice" / "taps.db-wal"}) {
    if (std::filesystem::exists(f)) places.emplace_back(f.filename().string(), read_file(f));
  }
  CHECK(relay.client_bytes().size() > 32);  // the capture really holds the batch
  for (const auto& [where, bytes] : places) {
    INFO(where);
    CHECK(bytes.find(pan) == std::string::npos);
    CHECK(bytes.find(pan_bcd) == std::string::npos);
  }
}

TEST_CASE("killing the back office in the middle of a sync loses no tap and duplicates none") {
  TempDir dir;
  auto backoffice = start_backoffice(dir.path() / "backoffice");
  TcpRelay relay(backoffice.port());
  hal::sim::ManualClock clock;
  auto keys = simulator::simulated_key_store(42).value();
  auto v = make_validator(dir.path(), "airport-exit-1", relay.port(), clock, keys, 50);
  tap_riders(*v, clock, 600, 1000);

  // Answers 1 and 2 are the server's two TLS handshake flights, answer 3 the HelloAck; after the
  // sixth answer (third BatchAck) the back office dies.
  const pid_t victim = backoffice.pid();
  relay.on_server_chunk([victim](std::size_t chunks) {
    if (chunks == 6) ::kill(victim, SIGKILL);
  });
  auto interrupted = v->sync();
  CHECK_FALSE(interrupted);
  backoffice.kill_hard();  // reap it
  const auto acked = v->journal().stats()->synced_through;
  CHECK(acked >= 100);
  CHECK(acked < 600);

  // Restart on the same data directory: what was acknowledged must be there.
  auto restarted = start_backoffice(dir.path() / "backoffice");
  relay.on_server_chunk({});
  relay.retarget(restarted.port());
  auto resumed = v->sync();
  REQUIRE(resumed);
  CHECK(resumed->server_had_through >= acked);
  CHECK(resumed->acknowledged_through == 600);
  CHECK(resumed->conflicts == 0);
  CHECK(v->journal().stats()->unsynced == 0);
  REQUIRE(restarted.stop().value() == 0);

  auto store = store::SqliteTapStore::open(dir.path() / "backoffice" / "taps.db");
  REQUIRE(store);
  CHECK((*store)->tap_count().value() == 600);
  CHECK((*store)->stored_through("airport-exit-1").value() == 600);
  CHECK((*store)->conflicts().value().empty());
}

TEST_CASE("a hostile frame on the ingest port closes that connection while honest validators keep syncing") {
  TempDir dir;
  // Plain TCP, so that the raw connection can speak the sync protocol itself (the same cases
  // over TLS: tests/backoffice/ingest/ingest_tls_test.cpp, tls_acceptance_test.cpp).
  auto backoffice = start_backoffice(dir.path() / "backoffice", {"--insecure-dev"});
  hal::sim::ManualClock clock;
  auto keys = simulator::simulated_key_store(42).value();
  auto v = make_validator(dir.path(), "old-town-entry-1", backoffice.port(), clock, keys);

  // A hostile peer stays connected while it announces a frame of about 34 GB.
  faregate::testing::RawConnection hostile(backoffice.port());
  REQUIRE(hostile.send(std::string("\xff\xff\xff\xff\x7f", 5)));
  // The honest validator syncs meanwhile.
  tap_riders(*v, clock, 5, 77);
  auto ok = v->sync();
  REQUIRE(ok);
  CHECK(ok->acknowledged_through == 5);

  // The hostile connection got an error frame naming the reason, then was closed.
  const std::string answer = hostile.read_until_closed(std::chrono::seconds(5));
  REQUIRE_FALSE(answer.empty());
  faregate::framing::FrameReader reader;
  REQUIRE(reader.append(answer));
  auto body = reader.next();
  REQUIRE(body);
  REQUIRE(body->has_value());
  faregate::v1::ServerFrame frame;
  REQUIRE(faregate::framing::parse_body(**body, frame));
  REQUIRE(frame.has_error());
  CHECK(frame.error().code() == "frame_too_large");
  CHECK(hostile.closed_by_peer());
}
