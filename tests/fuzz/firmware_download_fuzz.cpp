// Fuzz target: what a validator parses while it downloads firmware over the air. The same input
// is read as the download progress record (a file a power cut may have damaged), as a ServerFrame
// body from the back office whose FirmwareChunk is checked against a request (the request's
// offset and length are taken from the first input bytes), and as a FirmwareOffer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "faregate/v1/sync.pb.h"
#include "firmware/sync/firmware_download.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sync = faregate::sync;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto progress = sync::decode_download_progress(text)) {
    // A record that parses must encode back to the very same bytes.
    if (sync::encode_download_progress(*progress) != text) __builtin_trap();
  }

  faregate::v1::ServerFrame frame;
  if (frame.ParseFromArray(data, static_cast<int>(size)) && frame.has_firmware_chunk()) {
    faregate::v1::FirmwareChunkRequest request;
    request.set_image_sha256(frame.firmware_chunk().image_sha256());
    request.set_offset(size > 0 ? data[0] * 1024u : 0);
    request.set_length(size > 1 ? 1u + data[1] * 64u : 1u);
    const std::uint64_t image_size = 1 + (size > 2 ? data[2] * 4096u : 0);
    if (sync::check_chunk(request, frame.firmware_chunk(), image_size)) {
      // Accepted: it must fit the image exactly where it was asked for.
      const auto& chunk = frame.firmware_chunk();
      if (chunk.offset() + chunk.data().size() > image_size) __builtin_trap();
    }
  }
  faregate::v1::FirmwareOffer offer;
  if (offer.ParseFromArray(data, static_cast<int>(size))) (void)sync::check_offer(offer);
  return 0;
}
