#include "firmware/maintenance/maintenance_client.h"

#include "common/crypto.h"
#include "common/tls/frame_channel.h"
#include "firmware/maintenance/maintenance_session.h"
#include "proto/framing.h"

namespace faregate::maintenance {

namespace v1 = faregate::v1;

namespace {

Result<v1::MaintenanceResponse> exchange(tls::FrameChannel& channel,
                                         const v1::MaintenanceRequest& request,
                                         std::chrono::milliseconds timeout) {
  if (auto s = channel.send(request, timeout); !s) return std::unexpected(s.error());
  auto body = channel.receive(timeout);
  if (!body) return std::unexpected(body.error());
  v1::MaintenanceResponse response;
  if (auto parsed = framing::parse_body(*body, response); !parsed) {
    return make_error(ErrorCode::kProtocol, "the validator sent something that is not a "
                                            "MaintenanceResponse");
  }
  return response;
}

Status connect(tls::FrameChannel& channel, const Endpoint& endpoint) {
  return channel.connect(endpoint.host, endpoint.port, endpoint.tls, endpoint.timeout);
}

}  // namespace

Result<std::shared_ptr<const tls::ClientContext>> technician_context(
    const std::filesystem::path& certificate, const std::filesystem::path& key,
    const std::filesystem::path& ca) {
  return tls::ClientContext::load(
      tls::ClientFiles{certificate, key, ca, std::string(tls::kMaintenanceServerName)});
}

Result<v1::SlotReport> request_status(const Endpoint& endpoint) {
  tls::FrameChannel channel(kMaxFrameBytes);
  if (auto s = connect(channel, endpoint); !s) return std::unexpected(s.error());
  v1::MaintenanceRequest request;
  request.mutable_status();
  auto response = exchange(channel, request, endpoint.timeout);
  if (!response) return std::unexpected(response.error());
  if (response->has_error()) {
    return make_error(ErrorCode::kProtocol, response->error().code() + ": " +
                                                response->error().message());
  }
  if (!response->has_status()) {
    return make_error(ErrorCode::kProtocol, "the validator answered a status request with something else");
  }
  return response->status();
}

Result<FlashOutcome> flash_image(const Endpoint& endpoint, ByteView image,
                                 const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  tls::FrameChannel channel(kMaxFrameBytes);
  if (auto s = connect(channel, endpoint); !s) return std::unexpected(s.error());
  FlashOutcome outcome;
  if (auto peer = channel.peer()) outcome.device_id = peer->common_name;
  const auto refused = [&](const v1::MaintenanceResponse& response) -> Result<FlashOutcome> {
    outcome.refused = response.error();
    return outcome;
  };

  v1::MaintenanceRequest begin;
  begin.mutable_begin()->set_image_size(image.size());
  const auto sha = crypto::sha256(image);
  begin.mutable_begin()->set_image_sha256(std::string(sha.begin(), sha.end()));
  auto answer = exchange(channel, begin, endpoint.timeout);
  if (!answer) return std::unexpected(answer.error());
  if (answer->has_error()) return refused(*answer);
  if (!answer->has_progress()) return make_error(ErrorCode::kProtocol, "unexpected answer to ImageBegin");

  std::uint64_t sent = 0;
  while (sent < image.size()) {
    const std::size_t n = std::min<std::uint64_t>(kMaxDataBytes, image.size() - sent);
    v1::MaintenanceRequest data;
    data.mutable_data()->set_offset(sent);
    data.mutable_data()->set_data(reinterpret_cast<const char*>(image.data() + sent), n);
    auto ack = exchange(channel, data, endpoint.timeout);
    if (!ack) return std::unexpected(ack.error());
    if (ack->has_error()) return refused(*ack);
    if (!ack->has_progress() || ack->progress().received() != sent + n) {
      return make_error(ErrorCode::kProtocol, "the validator acknowledged the wrong amount");
    }
    sent += n;
    if (progress) progress(sent, image.size());
  }
  v1::MaintenanceRequest end;
  end.mutable_end();
  auto result = exchange(channel, end, endpoint.timeout);
  if (!result) return std::unexpected(result.error());
  if (result->has_error()) return refused(*result);
  if (!result->has_installed()) return make_error(ErrorCode::kProtocol, "unexpected answer to ImageEnd");
  outcome.installed = result->installed();
  return outcome;
}

}  // namespace faregate::maintenance
