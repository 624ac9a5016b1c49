// Fuzz target: what the back office parses for firmware over the air. The input is read as an
// image file an operator offers (summarize_image: header, sizes, payload hash) and as a
// ClientFrame body whose FirmwareChunkRequest is answered from a small offer store set up once in
// a scratch directory (read_chunk: group, image, offset and length checks before any read).
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "backoffice/firmware/firmware_offers.h"
#include "faregate/v1/sync.pb.h"

namespace {

// An offer store holding one structurally valid (unsigned-by-anyone-real) image for group "g".
faregate::firmware::FirmwareOffers* store() {
  static std::unique_ptr<faregate::firmware::FirmwareOffers> offers = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "fg-offer-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return std::unique_ptr<faregate::firmware::FirmwareOffers>();
    static std::filesystem::path scratch;
    scratch = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch, ec);
    });
    const std::filesystem::path dir(pattern);
    faregate::Bytes image(160 + 100 + 8, 0x30);
    const std::uint8_t magic[] = {'F', 'G', 'F', 'W', 1, 0, 160, 0};
    std::copy(std::begin(magic), std::end(magic), image.begin());
    std::fill(image.begin() + 8, image.begin() + 40, 0);
    image[8] = '1';
    for (std::size_t i = 40; i < 128; ++i) image[i] = 0;
    image[48] = 100;  // payload length
    const auto payload = faregate::crypto::sha256(faregate::ByteView(image).subspan(160, 100));
    std::copy(payload.begin(), payload.end(), image.begin() + 56);
    const auto check = faregate::crypto::sha256(faregate::ByteView(image).subspan(0, 128));
    std::copy(check.begin(), check.end(), image.begin() + 128);
    std::ofstream(dir / "in.fgi", std::ios::binary)
        .write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    auto opened = faregate::firmware::FirmwareOffers::open(dir);
    if (!opened || !(*opened)->offer(dir / "in.fgi", "g", 0)) {
      return std::unique_ptr<faregate::firmware::FirmwareOffers>();
    }
    return std::move(*opened);
  }();
  return offers.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const faregate::ByteView input(data, size);
  if (auto summary = faregate::firmware::summarize_image(input)) {
    if (summary->image_size != size) __builtin_trap();
  }
  faregate::v1::ClientFrame frame;
  auto* offers = store();
  if (offers != nullptr && frame.ParseFromArray(data, static_cast<int>(size)) &&
      frame.has_firmware_chunk_request()) {
    const auto& request = frame.firmware_chunk_request();
    const auto& sha = request.image_sha256();
    auto chunk = offers->read_chunk(
        "g", faregate::ByteView(reinterpret_cast<const std::uint8_t*>(sha.data()), sha.size()),
        request.offset(), request.length());
    if (chunk && (chunk->empty() || chunk->size() > request.length())) __builtin_trap();
  }
  return 0;
}
