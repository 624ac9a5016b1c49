#include "firmware/sync/frame_client.h"

namespace faregate::sync {

namespace {

// The sync thread's errors name the back office, so its log reads on its own.
tls::FrameChannelStyle sync_style() {
  tls::FrameChannelStyle style;
  style.receive_timeout = "no answer from the back office in time";
  style.closed_prefix = "connection closed by the back office: ";
  style.bad_frame_prefix = "bad frame from server: ";
  style.tcp_no_delay = true;
  return style;
}

}  // namespace

FrameClient::FrameClient(std::size_t max_frame_bytes,
                         std::shared_ptr<const tls::ClientContext> tls)
    : tls_(std::move(tls)), channel_(max_frame_bytes, sync_style()) {}
FrameClient::~FrameClient() = default;

Status FrameClient::connect(const std::string& host, std::uint16_t port,
                            std::chrono::milliseconds timeout) {
  return channel_.connect(host, port, tls_, timeout);
}

Status FrameClient::send(const faregate::v1::ClientFrame& frame,
                         std::chrono::milliseconds timeout) {
  return channel_.send(frame, timeout);
}

Result<faregate::v1::ServerFrame> FrameClient::receive(std::chrono::milliseconds timeout) {
  auto body = channel_.receive(timeout);
  if (!body) return std::unexpected(body.error());
  faregate::v1::ServerFrame frame;
  if (auto parsed = framing::parse_body(*body, frame); !parsed) {
    channel_.close();
    return make_error(ErrorCode::kProtocol, "unparseable server frame");
  }
  return frame;
}

void FrameClient::close() { channel_.close(); }

}  // namespace faregate::sync
