// Firmware over the air, end to end in one process: a real IngestServer over mutual TLS on
// loopback serving offers from a real FirmwareOffers store, the validator's SyncAgent with a
// FirmwareDownload into a real data directory, and update::install_image underneath. A TCP relay
// between them lets a test stop the back office in the middle of a download (a dropped
// connection); the next session, from a fresh FirmwareDownload as after a restart, resumes at the
// offset stored on disk. Nothing sleeps: waits are socket waits with timeouts and futures.

#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <future>
#include <iterator>

#include "backoffice/firmware/firmware_offers.h"
#include "faregate/v1/sync.pb.h"
#include "firmware/journal/journal.h"
#include "firmware/sync/firmware_download.h"
#include "firmware/sync/frame_client.h"
#include "firmware/sync/sync_agent.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/firmware_status.h"
#include "firmware/update/installer.h"
#include "firmware/update/quiet_restart.h"
#include "tests/firmware/journal/test_support.h"
#include "tests/firmware/sync/backoffice_harness.h"
#include "tests/firmware/update/update_test_support.h"
#include "tests/integration/tcp_relay.h"

using faregate::Bytes;
using faregate::ErrorCode;
using faregate::firmware::FirmwareOffers;
using faregate::journal::Journal;
using faregate::sync::DownloadProgress;
using faregate::sync::FirmwareDownload;
using faregate::sync::SyncAgent;
using faregate::sync::SyncOptions;
using faregate::testing::BackofficeHarness;
using faregate::testing::TcpRelay;
using faregate::testing::TempDir;
using faregate::update::PublicKey;
using faregate::update::QuietRestart;
using faregate::update::Slot;
namespace update = faregate::update;
namespace ut = faregate::update::testing;
namespace v1 = faregate::v1;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t kChunk = 8 * 1024;

// A payload of `bytes` bytes that differs per version, so that each image is its own.
std::string payload_of(const std::string& version, std::size_t bytes) {
  std::string payload = "#!/bin/sh\necho validator " + version + "\n# ";
  for (std::size_t i = 0; payload.size() < bytes; ++i) {
    payload.push_back(static_cast<char>('a' + (i * 7 + version.size()) % 26));
  }
  return payload;
}

void write_file(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// An offer of `image` as the back office makes it.
v1::FirmwareOffer offer_for(const Bytes& image, const std::string& version,
                            std::uint64_t security_counter) {
  v1::FirmwareOffer offer;
  offer.set_version(version);
  offer.set_security_counter(security_counter);
  offer.set_image_size(image.size());
  const auto sha = faregate::crypto::sha256(image);
  offer.set_image_sha256(std::string(sha.begin(), sha.end()));
  return offer;
}

// The chunk of `image` that answers `request`.
v1::FirmwareChunk chunk_for(const Bytes& image, const v1::FirmwareChunkRequest& request) {
  v1::FirmwareChunk chunk;
  chunk.set_image_sha256(request.image_sha256());
  chunk.set_offset(request.offset());
  const auto end = std::min<std::uint64_t>(image.size(), request.offset() + request.length());
  chunk.set_data(std::string(image.begin() + static_cast<std::ptrdiff_t>(request.offset()),
                             image.begin() + static_cast<std::ptrdiff_t>(end)));
  return chunk;
}

// The back office of these tests: an offer store in its own directory, and the harness's ingest
// server (mutual TLS, SQLite tap and push stores) serving from it.
struct OtaBackoffice {
  TempDir data;
  std::unique_ptr<FirmwareOffers> offers = FirmwareOffers::open(data.path()).value();
  BackofficeHarness bo{1, options()};

  faregate::ingest::IngestOptions options() {
    faregate::ingest::IngestOptions o;
    o.firmware = offers.get();
    return o;
  }
  // Writes `image` to a file and offers it to `group`.
  faregate::firmware::Offer offer(const Bytes& image, const std::string& group) {
    const auto file = data.path() / ("offer-" + group + ".fgi");
    write_file(file, image);
    auto offered = offers->offer(file, group, 1'700'000'000'000);
    REQUIRE(offered);
    return *offered;
  }
};

// A validator's data directory running `running` (installed as its first, active image).
struct Device {
  TempDir dir;
  std::unique_ptr<Journal> journal;
  explicit Device(const Bytes& running, const PublicKey& trusted, const std::string& id = "gate-1") {
    REQUIRE(update::install_image(dir.path(), running, trusted));
    journal = Journal::open(dir.path() / "journal.db", id).value();
    for (std::uint64_t seq = 1; seq <= 5; ++seq) {
      REQUIRE(journal->append(faregate::journal::test::make_tap(seq)));
    }
  }
  update::BootState state(const PublicKey& trusted) {
    update::PosixFileOps ops;
    auto status = update::read_firmware_status(update::FirmwareDir(dir.path()), ops, trusted);
    REQUIRE(status);
    return status->state;
  }
  std::map<std::string, Bytes> slots_and_state() {
    auto files = ut::snapshot(dir.path() / "firmware");
    std::erase_if(files, [](const auto& entry) { return entry.first.starts_with("download"); });
    return files;
  }
};

SyncOptions options_for(BackofficeHarness& bo, std::uint16_t port, const std::string& device,
                        const std::string& group, const std::string& running,
                        FirmwareDownload* download, QuietRestart* restart) {
  SyncOptions options;
  options.port = port;
  options.tls = bo.device(device);
  options.firmware_version = running;
  options.device_group = group;
  options.firmware = download;
  options.reader_status = [] { return std::string("ok"); };
  options.io_timeout = 10s;
  if (restart != nullptr) {
    options.on_firmware_installed = [restart](const std::string& version) {
      restart->request("firmware " + version + " installed");
    };
  }
  return options;
}

}  // namespace

TEST_CASE("an offered image is downloaded in chunks across a dropped connection, resumed, installed to the inactive slot, and the restart waits for the tap in progress") {
  const auto key = ut::seeded_key(1);
  const PublicKey& trusted = key.public_key();
  OtaBackoffice office;
  const Bytes running = ut::make_image(key, "1.0", 1);
  const Bytes next = ut::make_image(key, "1.1", 2, payload_of("1.1", 200 * 1024));
  const auto offer = office.offer(next, "line-4");
  Device device(running, trusted);
  REQUIRE(device.state(trusted).active == Slot::kA);

  // The relay stops the back office after a dozen answers: well into the ~25-chunk download.
  TcpRelay relay(office.bo.port());
  std::atomic<bool> cut{false};
  std::promise<void> stopped;
  relay.on_server_chunk([&](std::size_t chunks) {
    if (chunks == 12 && !cut.exchange(true)) {
      office.bo.stop();
      stopped.set_value();
    }
  });

  QuietRestart restart;
  // The card thread is in the middle of a tap all along the download.
  std::optional<QuietRestart::TapScope> tap(std::in_place, restart);
  REQUIRE(tap->ok());

  std::uint64_t resumed_from = 0;
  {
    FirmwareDownload download(device.dir.path(), trusted, kChunk);
    SyncAgent agent(*device.journal, options_for(office.bo, relay.port(), "gate-1", "line-4", "1.0",
                                                 &download, &restart));
    auto report = agent.sync_once();
    REQUIRE_FALSE(report);
    CHECK((report.error().code == ErrorCode::kUnavailable ||
           report.error().code == ErrorCode::kTimeout));
    REQUIRE(stopped.get_future().wait_for(10s) == std::future_status::ready);
    // The taps made it before the cut; the image did not, and nothing was installed.
    CHECK(device.journal->stats()->unsynced == 0);
    auto stored = download.stored_progress();
    REQUIRE(stored);
    REQUIRE(stored->has_value());
    resumed_from = (*stored)->offset;
    CHECK(resumed_from > 0);
    CHECK(resumed_from < next.size());
    CHECK(resumed_from % kChunk == 0);
    CHECK(std::filesystem::file_size(download.part_file()) == resumed_from);
    CHECK_FALSE(device.state(trusted).pending.has_value());
    CHECK_FALSE(restart.requested());
  }

  office.bo.start();  // same port: the relay forwards to it again
  {
    // A fresh download object, as after a validator restart: it resumes from the disk.
    FirmwareDownload download(device.dir.path(), trusted, kChunk);
    SyncAgent agent(*device.journal, options_for(office.bo, relay.port(), "gate-1", "line-4", "1.0",
                                                 &download, &restart));
    auto report = agent.sync_once();
    REQUIRE(report);
    CHECK(report->firmware_refused.empty());
    CHECK(report->firmware_installed == "1.1");
    CHECK(report->firmware_bytes == next.size() - resumed_from);
    CHECK_FALSE(std::filesystem::exists(download.part_file()));
    CHECK_FALSE(std::filesystem::exists(download.progress_file()));
  }
  const auto state = device.state(trusted);
  CHECK(state.active == Slot::kA);
  CHECK(state.pending == Slot::kB);
  CHECK(state.pending_image == offer.image.image_sha256);
  CHECK(read_file(update::FirmwareDir(device.dir.path()).slot_file(Slot::kB)) == next);
  CHECK(read_file(update::FirmwareDir(device.dir.path()).slot_file(Slot::kA)) == running);
  CHECK(office.bo.server().counters().firmware_offers == 1);

  // The restart is wanted, but not while the tap is in progress.
  CHECK(restart.requested());
  CHECK_FALSE(restart.take_if_quiet().has_value());
  tap.reset();
  const auto reason = restart.take_if_quiet();
  REQUIRE(reason);
  CHECK(*reason == "firmware 1.1 installed");
  CHECK_FALSE(QuietRestart::TapScope(restart).ok());  // no new tap once it is restarting

  // Until it reboots the validator still reports 1.0 and is offered 1.1 again: nothing is
  // fetched, it is told the image already waits.
  QuietRestart again;
  FirmwareDownload download(device.dir.path(), trusted, kChunk);
  SyncAgent agent(*device.journal, options_for(office.bo, office.bo.port(), "gate-1", "line-4",
                                               "1.0", &download, &again));
  auto report = agent.sync_once();
  REQUIRE(report);
  CHECK(report->firmware_bytes == 0);
  CHECK(report->firmware_installed == "1.1");
  CHECK(again.take_if_quiet().has_value());
  relay.stop();
}

TEST_CASE("a validator of another group, or of no group, or already running the offered version, gets no offer") {
  const auto key = ut::seeded_key(1);
  const PublicKey& trusted = key.public_key();
  OtaBackoffice office;
  office.offer(ut::make_image(key, "1.1", 2), "line-4");
  const Bytes running = ut::make_image(key, "1.0", 1);

  for (const auto& [group, version] : std::vector<std::pair<std::string, std::string>>{
           {"line-7", "1.0"}, {"", "1.0"}, {"line-4", "1.1"}}) {
    Device device(running, trusted);
    const auto before = device.slots_and_state();
    QuietRestart restart;
    FirmwareDownload download(device.dir.path(), trusted, kChunk);
    SyncAgent agent(*device.journal, options_for(office.bo, office.bo.port(), "gate-1", group,
                                                 version, &download, &restart));
    auto report = agent.sync_once();
    REQUIRE(report);
    CHECK(report->acknowledged_through == 5);
    CHECK(report->firmware_bytes == 0);
    CHECK(report->firmware_installed.empty());
    CHECK_FALSE(restart.requested());
    CHECK(device.slots_and_state() == before);
  }
  CHECK(office.bo.server().counters().firmware_offers == 0);
  CHECK(office.bo.server().counters().firmware_chunks == 0);
}

TEST_CASE("an offered image that is tampered with, signed by another key or below the device's security counter is refused, nothing is installed, and it is not fetched again") {
  const auto key = ut::seeded_key(1);
  const auto other_key = ut::seeded_key(2);
  const PublicKey& trusted = key.public_key();
  OtaBackoffice office;

  struct Case {
    std::string name;
    Bytes running;
    Bytes offered;
    bool alter_stored_copy;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"signed by another key", ut::make_image(key, "1.0", 1),
       ut::make_image(other_key, "6.6", 9, payload_of("6.6", 30'000)), false,
       "signed by a different key"},
      {"altered on the back office after the offer", ut::make_image(key, "1.0", 1),
       ut::make_image(key, "1.2", 3, payload_of("1.2", 30'000)), true,
       "does not match the offer"},
      {"below the security counter", ut::make_image(key, "2.0", 5),
       ut::make_image(key, "1.9", 4, payload_of("1.9", 30'000)), false, "lower than 5"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const auto offer = office.offer(c.offered, "line-4");
      if (c.alter_stored_copy) {
        // One byte of the payload flipped in the copy the back office serves.
        Bytes stored = read_file(offer.image_file);
        stored[200] ^= 0x01;
        write_file(offer.image_file, stored);
      }
      Device device(c.running, trusted);
      const auto before = device.slots_and_state();
      QuietRestart restart;
      FirmwareDownload download(device.dir.path(), trusted, kChunk);
      SyncAgent agent(*device.journal,
                      options_for(office.bo, office.bo.port(), "gate-1", "line-4", "1.0",
                                  &download, &restart));
      auto report = agent.sync_once();
      REQUIRE(report);
      CHECK(report->acknowledged_through == 5);  // the taps are synced regardless
      CHECK(report->firmware_bytes == c.offered.size());
      CHECK_THAT(report->firmware_refused, Catch::Contains(c.message));
      CHECK(report->firmware_installed.empty());
      CHECK_FALSE(restart.requested());
      CHECK(device.slots_and_state() == before);
      CHECK_FALSE(std::filesystem::exists(download.part_file()));

      // The next session does not fetch the refused image again.
      auto again = agent.sync_once();
      REQUIRE(again);
      CHECK(again->firmware_bytes == 0);
      CHECK(device.slots_and_state() == before);
    }
  }
}

TEST_CASE("a chunk that does not answer its request is refused and the partial download is discarded") {
  const auto key = ut::seeded_key(1);
  TempDir dir;
  const Bytes image = ut::make_image(key, "1.1", 2, payload_of("1.1", 40'000));
  v1::FirmwareOffer offer = offer_for(image, "1.1", 2);

  for (const std::string fault : {"offset", "short", "long", "image"}) {
    DYNAMIC_SECTION("chunk with a wrong " << fault) {
      FirmwareDownload download(dir.path(), key.public_key(), kChunk);
      REQUIRE(download.begin(offer).value() == faregate::sync::OfferDecision::kDownload);
      REQUIRE(download.accept(chunk_for(image, *download.next_request())));
      REQUIRE(download.progress()->offset == kChunk);
      auto chunk = chunk_for(image, *download.next_request());
      if (fault == "offset") chunk.set_offset(0);
      if (fault == "short") chunk.mutable_data()->pop_back();
      if (fault == "long") chunk.mutable_data()->push_back('x');
      if (fault == "image") (*chunk.mutable_image_sha256())[0] ^= 1;
      auto accepted = download.accept(chunk);
      REQUIRE_FALSE(accepted);
      CHECK(accepted.error().code == ErrorCode::kProtocol);
      CHECK_THAT(accepted.error().message, Catch::StartsWith("bad chunk"));
      CHECK_FALSE(download.next_request().has_value());
      CHECK_FALSE(std::filesystem::exists(download.part_file()));
      CHECK_FALSE(download.stored_progress().value().has_value());
      // A bad chunk is a transport problem, not a verdict on the image: it may be fetched again.
      CHECK(download.begin(offer).value() == faregate::sync::OfferDecision::kDownload);
      CHECK(download.progress()->offset == 0);
    }
  }
}

TEST_CASE("a partial download resumes only from what the disk vouches for") {
  const auto key = ut::seeded_key(1);
  TempDir dir;
  const Bytes image = ut::make_image(key, "1.1", 2, payload_of("1.1", 40'000));
  v1::FirmwareOffer offer = offer_for(image, "1.1", 2);
  {
    FirmwareDownload download(dir.path(), key.public_key(), kChunk);
    REQUIRE(download.begin(offer).value() == faregate::sync::OfferDecision::kDownload);
    REQUIRE(download.next_request()->length() == kChunk);
    REQUIRE(download.accept(chunk_for(image, *download.next_request())));
  }
  // Bytes written after the last recorded offset (a crash between the write and the record)
  // are cut off on resume.
  FirmwareDownload probe(dir.path(), key.public_key(), kChunk);
  {
    std::ofstream part(probe.part_file(), std::ios::binary | std::ios::app);
    part << std::string(100, 'z');
  }
  REQUIRE(probe.begin(offer).value() == faregate::sync::OfferDecision::kDownload);
  CHECK(probe.progress()->offset == kChunk);
  CHECK(std::filesystem::file_size(probe.part_file()) == kChunk);

  // Another image offered meanwhile: the old partial download is dropped.
  const Bytes other = ut::make_image(key, "1.2", 3, payload_of("1.2", 20'000));
  offer = offer_for(other, "1.2", 2);
  REQUIRE(probe.begin(offer).value() == faregate::sync::OfferDecision::kDownload);
  CHECK(probe.progress()->offset == 0);
  CHECK(std::filesystem::file_size(probe.part_file()) == 0);
}

TEST_CASE("download progress records round-trip and damaged ones are refused") {
  DownloadProgress p;
  p.image_sha256.fill(0xAB);
  p.version = "1.4.0-rc1";
  p.security_counter = 7;
  p.image_size = 123'456;
  p.offset = 65'536;
  const std::string text = faregate::sync::encode_download_progress(p);
  auto decoded = faregate::sync::decode_download_progress(text);
  REQUIRE(decoded);
  CHECK(*decoded == p);
  for (std::size_t cut : {std::size_t{0}, std::size_t{10}, text.size() - 1}) {
    CHECK_FALSE(faregate::sync::decode_download_progress(text.substr(0, cut)));
  }
  std::string flipped = text;
  flipped[40] ^= 1;
  CHECK_FALSE(faregate::sync::decode_download_progress(flipped));
  p.offset = p.image_size + 1;  // an offset beyond the image is refused even with a good check
  auto beyond = faregate::sync::decode_download_progress(faregate::sync::encode_download_progress(p));
  REQUIRE_FALSE(beyond);
  CHECK_THAT(beyond.error().message, Catch::Contains("offset"));
}

TEST_CASE("the back office refuses a chunk request over the size limit and one for an image it does not offer") {
  const auto key = ut::seeded_key(1);
  OtaBackoffice office;
  const auto offer = office.offer(ut::make_image(key, "1.1", 2), "line-4");

  const auto ask = [&](const std::string& group, const std::string& sha, std::uint64_t offset,
                       std::uint32_t length) {
    faregate::sync::FrameClient client(faregate::framing::kDefaultMaxFrameBytes,
                                       office.bo.device("gate-1"));
    REQUIRE(client.connect("127.0.0.1", office.bo.port(), 5s));
    v1::ClientFrame hello;
    hello.mutable_hello()->set_device_id("gate-1");
    hello.mutable_hello()->set_protocol_version(1);
    hello.mutable_hello()->set_device_group(group);
    REQUIRE(client.send(hello, 5s));
    REQUIRE(client.receive(5s).value().has_hello_ack());
    v1::ClientFrame request;
    request.mutable_firmware_chunk_request()->set_image_sha256(sha);
    request.mutable_firmware_chunk_request()->set_offset(offset);
    request.mutable_firmware_chunk_request()->set_length(length);
    REQUIRE(client.send(request, 5s));
    auto answer = client.receive(5s);
    REQUIRE(answer);
    return *answer;
  };
  const std::string sha(offer.image.image_sha256.begin(), offer.image.image_sha256.end());

  auto good = ask("line-4", sha, 100, 50);
  REQUIRE(good.has_firmware_chunk());
  CHECK(good.firmware_chunk().data().size() == 50);
  CHECK(ask("line-4", sha, 0, faregate::firmware::kMaxChunkBytes + 1).error().code() ==
        "bad_chunk_request");
  CHECK(ask("line-4", sha, 0, 0).error().code() == "bad_chunk_request");
  CHECK(ask("line-4", sha, offer.image.image_size, 10).error().code() == "bad_chunk_request");
  CHECK(ask("line-7", sha, 0, 10).error().code() == "firmware_unavailable");
  CHECK(ask("line-4", std::string(32, 'x'), 0, 10).error().code() == "firmware_unavailable");
  CHECK(office.bo.server().counters().violation(faregate::ingest::Violation::kBadChunkRequest) == 3);
}
