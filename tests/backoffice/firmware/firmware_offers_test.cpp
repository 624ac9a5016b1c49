// firmware::FirmwareOffers (the back office's over-the-air offers) and the operator's
// `faregate-backoffice firmware ...` commands run as a real process.

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "backoffice/firmware/firmware_offers.h"
#include "tests/firmware/update/process_runner.h"
#include "tests/firmware/update/update_test_support.h"
#include "tests/support/temp_dir.h"

using faregate::Bytes;
using faregate::ErrorCode;
using faregate::firmware::FirmwareOffers;
using faregate::testing::TempDir;
namespace ut = faregate::update::testing;

namespace {

void write_file(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::size_t stored_images(const TempDir& dir) {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "firmware" / "images")) {
    if (entry.path().extension() == ".fgi") ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("an offered image is copied into the store and served in chunks to its group only") {
  TempDir dir;
  const auto key = ut::seeded_key(1);
  const Bytes image = ut::make_image(key, "1.5.0", 4, std::string(5000, 'p'));
  write_file(dir.path() / "in.fgi", image);
  auto offers = FirmwareOffers::open(dir.path()).value();
  auto offer = offers->offer(dir.path() / "in.fgi", "line-4", 42);
  REQUIRE(offer);
  CHECK(offer->image.version == "1.5.0");
  CHECK(offer->image.security_counter == 4);
  CHECK(offer->image.image_size == image.size());
  CHECK(offer->image.image_sha256 == faregate::crypto::sha256(image));
  CHECK(read_file(offer->image_file) == image);
  std::filesystem::remove(dir.path() / "in.fgi");  // the store has its own copy

  const auto proto = offer->to_proto();
  CHECK(proto.version() == "1.5.0");
  CHECK(proto.image_size() == image.size());
  CHECK(proto.image_sha256().size() == 32);

  const auto sha = offer->image.image_sha256;
  auto chunk = offers->read_chunk("line-4", sha, 100, 1000);
  REQUIRE(chunk);
  CHECK(*chunk == Bytes(image.begin() + 100, image.begin() + 1100));
  auto tail = offers->read_chunk("line-4", sha, image.size() - 10, 1000);
  REQUIRE(tail);
  CHECK(tail->size() == 10);  // fewer bytes only at the end of the image
  CHECK(offers->read_chunk("line-4", sha, image.size(), 10).error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(offers->read_chunk("line-4", sha, 0, 0).error().code == ErrorCode::kInvalidArgument);
  CHECK(offers->read_chunk("line-4", sha, 0, faregate::firmware::kMaxChunkBytes + 1).error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(offers->read_chunk("line-7", sha, 0, 10).error().code == ErrorCode::kNotFound);
  CHECK(offers->read_chunk("line-4", Bytes(32, 0), 0, 10).error().code == ErrorCode::kNotFound);
  CHECK(offers->read_chunk("line-4", Bytes(3, 0), 0, 10).error().code == ErrorCode::kNotFound);

  // Reopened, the offer is still there.
  offers.reset();
  offers = FirmwareOffers::open(dir.path()).value();
  auto again = offers->offer_for("line-4");
  REQUIRE(again);
  REQUIRE(again->has_value());
  CHECK((*again)->image.image_sha256 == sha);
  CHECK_FALSE(offers->offer_for("line-7").value().has_value());
}

TEST_CASE("a new offer replaces the group's previous one and images no group is offered are removed") {
  TempDir dir;
  const auto key = ut::seeded_key(1);
  auto offers = FirmwareOffers::open(dir.path()).value();
  const Bytes first = ut::make_image(key, "1.0", 1);
  const Bytes second = ut::make_image(key, "1.1", 2);
  write_file(dir.path() / "first.fgi", first);
  write_file(dir.path() / "second.fgi", second);
  const auto a = offers->offer(dir.path() / "first.fgi", "line-4", 1).value();
  REQUIRE(offers->offer(dir.path() / "first.fgi", "line-7", 1));
  REQUIRE(offers->offer(dir.path() / "second.fgi", "line-4", 2));
  CHECK(stored_images(dir) == 2);  // line-7 still has the first
  CHECK(offers->read_chunk("line-4", a.image.image_sha256, 0, 10).error().code == ErrorCode::kNotFound);
  CHECK(offers->list().value().size() == 2);
  CHECK(offers->withdraw("line-7").value());
  CHECK_FALSE(offers->withdraw("line-7").value());
  CHECK(stored_images(dir) == 1);
  CHECK_FALSE(std::filesystem::exists(a.image_file));
  REQUIRE(offers->list().value().size() == 1);
  CHECK(offers->list().value()[0].image.version == "1.1");
}

TEST_CASE("files that are not whole firmware images and bad group names are refused with their reason") {
  TempDir dir;
  const auto key = ut::seeded_key(1);
  auto offers = FirmwareOffers::open(dir.path()).value();
  const Bytes good = ut::make_image(key, "1.0", 1, std::string(300, 'x'));

  struct Case {
    std::string name;
    Bytes bytes;
    std::string message;
  };
  Bytes payload_altered = good;
  payload_altered[200] ^= 1;
  Bytes header_altered = good;
  header_altered[45] ^= 1;
  Bytes appended = good;
  appended.resize(good.size() + 80, 0);
  const std::vector<Case> cases = {
      {"text", faregate::to_bytes("hello, not an image"), "image truncated"},
      {"bad magic", Bytes(400, 'A'), "bad magic"},
      {"truncated", Bytes(good.begin(), good.begin() + 300), "image truncated"},
      {"payload altered", payload_altered, "payload SHA-256 does not match"},
      {"header altered", header_altered, "header check failed"},
      {"bytes appended", appended, "bytes were added"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      write_file(dir.path() / "x.fgi", c.bytes);
      auto offer = offers->offer(dir.path() / "x.fgi", "line-4", 1);
      REQUIRE_FALSE(offer);
      CHECK(offer.error().code == ErrorCode::kCorrupt);
      CHECK_THAT(offer.error().message, Catch::Contains(c.message));
      CHECK(offers->list().value().empty());
      CHECK(stored_images(dir) == 0);
    }
  }
  write_file(dir.path() / "good.fgi", good);
  for (const std::string& group : std::vector<std::string>{"", "line 4", "line/4", std::string(65, 'g')}) {
    auto offer = offers->offer(dir.path() / "good.fgi", group, 1);
    REQUIRE_FALSE(offer);
    CHECK(offer.error().code == ErrorCode::kInvalidArgument);
  }
  CHECK(offers->offer(dir.path() / "missing.fgi", "line-4", 1).error().code == ErrorCode::kNotFound);
}

TEST_CASE("faregate-backoffice firmware offer, show and withdraw work from the command line") {
  TempDir dir;
  const auto key = ut::seeded_key(1);
  const Bytes image = ut::make_image(key, "2.0.1", 7);
  write_file(dir.path() / "v2.fgi", image);
  const std::string data = (dir.path() / "bo").string();
  using faregate::update::testing::run_process;

  auto offered = run_process({FAREGATE_BACKOFFICE_BINARY, "--data-dir", data, "firmware", "offer",
                              "--image", (dir.path() / "v2.fgi").string(), "--group", "line-4",
                              "--json"});
  REQUIRE(offered.status == 0);
  const auto json = nlohmann::json::parse(offered.output);
  CHECK(json["group"] == "line-4");
  CHECK(json["version"] == "2.0.1");
  CHECK(json["security_counter"] == 7);
  CHECK(json["image_size"] == image.size());
  CHECK(json["image_sha256"] == faregate::to_hex(faregate::crypto::sha256(image)));

  auto shown = run_process({FAREGATE_BACKOFFICE_BINARY, "--data-dir", data, "firmware", "show"});
  CHECK(shown.status == 0);
  CHECK_THAT(shown.output, Catch::Contains("group line-4: firmware 2.0.1, security counter 7"));

  write_file(dir.path() / "bad.fgi", faregate::to_bytes("not an image at all, just some text here"));
  auto bad = run_process({FAREGATE_BACKOFFICE_BINARY, "--data-dir", data, "firmware", "offer",
                          "--image", (dir.path() / "bad.fgi").string(), "--group", "line-4"});
  CHECK(bad.status == 1);
  CHECK_THAT(bad.output, Catch::Contains("image truncated"));

  auto withdrawn = run_process({FAREGATE_BACKOFFICE_BINARY, "--data-dir", data, "firmware",
                                "withdraw", "--group", "line-4"});
  CHECK(withdrawn.status == 0);
  auto empty = run_process({FAREGATE_BACKOFFICE_BINARY, "--data-dir", data, "firmware", "show",
                            "--json"});
  CHECK(empty.status == 0);
  CHECK(nlohmann::json::parse(empty.output).empty());
  CHECK(run_process({FAREGATE_BACKOFFICE_BINARY, "--data-dir", data, "firmware", "withdraw",
                     "--group", "line-4"})
            .status == 1);
  auto help = run_process({FAREGATE_BACKOFFICE_BINARY, "--data-dir", data, "firmware", "--help"});
  CHECK(help.status == 0);
  CHECK_THAT(help.output, Catch::Contains("Examples:"));
}
