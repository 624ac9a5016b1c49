#include "firmware/maintenance/maintenance_session.h"

#include <cstring>

#include <fmt/format.h>

#include "firmware/update/file_ops.h"
#include "firmware/update/firmware_dir.h"
#include "firmware/update/firmware_status.h"
#include "firmware/update/image_format.h"

namespace faregate::maintenance {

namespace v1 = faregate::v1;

namespace {

std::string slot_name(const std::optional<update::Slot>& slot) {
  return slot ? std::string(1, update::slot_letter(*slot)) : std::string();
}

v1::MaintenanceResponse progress(std::uint64_t received, std::uint64_t total) {
  v1::MaintenanceResponse response;
  response.mutable_progress()->set_received(received);
  response.mutable_progress()->set_total(total);
  return response;
}

}  // namespace

Result<v1::SlotReport> slot_report(const DeviceInfo& device, const update::PublicKey& trusted) {
  update::PosixFileOps ops;
  auto status = update::read_firmware_status(update::FirmwareDir(device.data_dir), ops, trusted);
  if (!status) return std::unexpected(status.error());
  v1::SlotReport report;
  report.set_device_id(device.device_id);
  report.set_running_version(device.running_version);
  report.set_active_slot(slot_name(status->state.active));
  report.set_pending_slot(slot_name(status->state.pending));
  report.set_security_counter(status->state.security_counter);
  report.set_trial_boots(status->state.trial_boots);
  for (const update::Slot slot : {update::Slot::kA, update::Slot::kB}) {
    const update::SlotCheck& check = status->slots[update::slot_index(slot)];
    auto* info = report.add_slots();
    info->set_slot(std::string(1, update::slot_letter(slot)));
    info->set_present(check.present);
    info->set_verified(check.verified());
    if (check.header) {
      info->set_version(check.header->firmware_version);
      info->set_security_counter(check.header->security_counter);
    }
    if (check.image_sha256) {
      info->set_image_sha256(std::string(check.image_sha256->begin(), check.image_sha256->end()));
    }
    info->set_problem(check.problem);
  }
  return report;
}

MaintenanceSession::MaintenanceSession(DeviceInfo device, const update::PublicKey& trusted,
                                       std::function<void(const update::SlotState&)> on_installed)
    : device_(std::move(device)), trusted_(trusted), on_installed_(std::move(on_installed)) {}

v1::MaintenanceResponse MaintenanceSession::fail(std::string code, std::string message) {
  finished_ = true;
  transfer_.reset();
  v1::MaintenanceResponse response;
  response.mutable_error()->set_code(std::move(code));
  response.mutable_error()->set_message(std::move(message));
  return response;
}

v1::MaintenanceResponse MaintenanceSession::handle(const v1::MaintenanceRequest& request) {
  if (finished_) return fail("bad_request", "the session is over");
  switch (request.body_case()) {
    case v1::MaintenanceRequest::kStatus: {
      auto report = slot_report(device_, trusted_);
      if (!report) return fail("io_error", report.error().describe());
      v1::MaintenanceResponse response;
      *response.mutable_status() = std::move(*report);
      return response;
    }
    case v1::MaintenanceRequest::kBegin: {
      const auto& begin = request.begin();
      if (transfer_) return fail("bad_request", "an image transfer is already under way");
      if (begin.image_size() < update::kImageHeaderBytes + update::kMinSignatureBytes) {
        return fail("bad_request", fmt::format("{} bytes cannot be a firmware image",
                                               begin.image_size()));
      }
      if (begin.image_size() > update::kMaxImageBytes) {
        return fail("image_too_large", fmt::format("{} bytes is over the {}-byte image limit",
                                                   begin.image_size(), update::kMaxImageBytes));
      }
      if (begin.image_sha256().size() != crypto::kSha256Bytes) {
        return fail("bad_request", "image_sha256 must have 32 bytes");
      }
      Transfer transfer;
      transfer.size = begin.image_size();
      std::memcpy(transfer.sha256.data(), begin.image_sha256().data(), transfer.sha256.size());
      transfer_ = std::move(transfer);
      return progress(0, transfer_->size);
    }
    case v1::MaintenanceRequest::kData: {
      const auto& data = request.data();
      if (!transfer_) return fail("bad_request", "image data before ImageBegin");
      if (data.data().empty() || data.data().size() > kMaxDataBytes) {
        return fail("bad_request", fmt::format("a data chunk has 1 to {} bytes, not {}",
                                               kMaxDataBytes, data.data().size()));
      }
      if (data.offset() != transfer_->image.size()) {
        return fail("bad_request", fmt::format("chunk at offset {} where {} was expected",
                                               data.offset(), transfer_->image.size()));
      }
      if (transfer_->image.size() + data.data().size() > transfer_->size) {
        return fail("bad_request", "more bytes than the announced image size");
      }
      transfer_->image.insert(transfer_->image.end(), data.data().begin(), data.data().end());
      return progress(transfer_->image.size(), transfer_->size);
    }
    case v1::MaintenanceRequest::kEnd:
      return finish_image();
    case v1::MaintenanceRequest::BODY_NOT_SET:
      break;
  }
  return fail("bad_request", "an empty request");
}

v1::MaintenanceResponse MaintenanceSession::finish_image() {
  if (!transfer_) return fail("bad_request", "ImageEnd before ImageBegin");
  if (transfer_->image.size() != transfer_->size) {
    return fail("bad_request", fmt::format("image ended after {} of {} bytes",
                                           transfer_->image.size(), transfer_->size));
  }
  if (crypto::sha256(transfer_->image) != transfer_->sha256) {
    return fail("sha256_mismatch",
                "the received image's SHA-256 does not match ImageBegin: damaged in transfer");
  }
  const Bytes image = std::move(transfer_->image);
  transfer_.reset();
  auto installed = update::install_image(device_.data_dir, image, trusted_);
  if (!installed) {
    return fail(installed.error().code == ErrorCode::kIo ? "io_error" : "image_refused",
                installed.error().message);
  }
  // install_image read the slot back and verified it; the report shows the slots as read now.
  auto report = slot_report(device_, trusted_);
  if (!report) return fail("io_error", report.error().describe());
  finished_ = true;
  if (on_installed_) on_installed_(*installed);
  v1::MaintenanceResponse response;
  auto* out = response.mutable_installed();
  out->set_slot(std::string(1, update::slot_letter(installed->slot)));
  out->set_role(installed->role == update::SlotRole::kPending ? "pending" : "active");
  out->set_version(installed->header.firmware_version);
  out->set_security_counter(installed->header.security_counter);
  out->set_already_installed(installed->already_installed);
  *out->mutable_status() = std::move(*report);
  return response;
}

}  // namespace faregate::maintenance
