#include "simulator/network/virtual_validator.h"

namespace faregate::simulator {

using namespace std::chrono_literals;

Result<std::unique_ptr<VirtualValidator>> VirtualValidator::create(
    const std::filesystem::path& journal_path, tap::TapPipelineConfig pipeline_config,
    sync::SyncOptions sync_options, const hal::Clock& clock, const hal::KeyStore& keys,
    const emv::oda::CaKeyTable& ca_keys) {
  std::error_code ec;
  std::filesystem::create_directories(journal_path.parent_path(), ec);
  if (ec) {
    return make_error(ErrorCode::kIo, "cannot create " + journal_path.parent_path().string() +
                                          ": " + ec.message());
  }
  auto journal = journal::Journal::open(journal_path, pipeline_config.device_id);
  if (!journal) return std::unexpected(journal.error());
  return std::unique_ptr<VirtualValidator>(new VirtualValidator(
      std::move(*journal), std::move(pipeline_config), std::move(sync_options), clock, keys, ca_keys));
}

VirtualValidator::VirtualValidator(std::unique_ptr<journal::Journal> journal,
                                   tap::TapPipelineConfig pipeline_config,
                                   sync::SyncOptions sync_options, const hal::Clock& clock,
                                   const hal::KeyStore& keys, const emv::oda::CaKeyTable& ca_keys)
    : journal_(std::move(journal)),
      drbg_(crypto::Drbg::deterministic(std::hash<std::string>{}(journal_->device_id()))),
      pipeline_(reader_, gate_, clock, keys, *journal_, ca_keys, drbg_, std::move(pipeline_config)),
      agent_(*journal_, std::move(sync_options)) {}

Result<tap::TapOutcome> VirtualValidator::present(std::shared_ptr<hal::sim::ContactlessCard> card) {
  reader_.place(std::move(card));
  auto outcome = pipeline_.poll(0ms);
  reader_.remove();
  if (!outcome) return std::unexpected(outcome.error());
  if (!outcome->has_value()) {
    return make_error(ErrorCode::kInternal, "the reader did not see the card placed on it");
  }
  return std::move(**outcome);
}

}  // namespace faregate::simulator
