// Fuzz target: the sync framing codec and envelope parsing, fed the bytes a hostile peer could
// send to the ingest port (or a hostile server to a validator), split at a fuzzed point.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "faregate/v1/sync.pb.h"
#include "proto/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t split = data[0] % (size + 1);
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  faregate::framing::FrameReader reader(64 * 1024);
  for (std::string_view part : {bytes.substr(0, std::min(split, bytes.size())),
                                bytes.substr(std::min(split, bytes.size()))}) {
    if (!reader.append(part)) return 0;
    while (auto body = reader.next()) {
      if (!*body) return 0;
      faregate::v1::ClientFrame client;
      faregate::v1::ServerFrame server;
      (void)faregate::framing::parse_body(**body, client);
      (void)faregate::framing::parse_body(**body, server);
    }
  }
  (void)reader.finish();
  return 0;
}
