#pragma once
// One in-process validator of a simulated network: the real firmware pieces (journal, tap
// pipeline, sync agent) on a virtual reader and a virtual gate.

#include <filesystem>
#include <memory>
#include <string>

#include "common/error.h"
#include "firmware/journal/journal.h"
#include "firmware/sync/sync_agent.h"
#include "firmware/tap/tap_pipeline.h"
#include "hal/clock.h"
#include "hal/key_store.h"
#include "hal/sim/contactless_card.h"
#include "hal/sim/sim_gate.h"
#include "hal/sim/sim_nfc_reader.h"

namespace faregate::simulator {

class VirtualValidator {
 public:
  // Opens (or creates) the journal at journal_path.
  static Result<std::unique_ptr<VirtualValidator>> create(
      const std::filesystem::path& journal_path, tap::TapPipelineConfig pipeline_config,
      sync::SyncOptions sync_options, const hal::Clock& clock, const hal::KeyStore& keys,
      const emv::oda::CaKeyTable& ca_keys);

  // Presents the card to the reader as a rider would: into the field, one tap, out of the field.
  Result<tap::TapOutcome> present(std::shared_ptr<hal::sim::ContactlessCard> card);

  Result<sync::SyncReport> sync() { return agent_.sync_once(); }

  journal::Journal& journal() { return *journal_; }
  hal::sim::SimGate& gate() { return gate_; }
  hal::sim::SimNfcReader& reader() { return reader_; }
  const std::string& device_id() const { return journal_->device_id(); }

 private:
  VirtualValidator(std::unique_ptr<journal::Journal> journal, tap::TapPipelineConfig pipeline_config,
                   sync::SyncOptions sync_options, const hal::Clock& clock, const hal::KeyStore& keys,
                   const emv::oda::CaKeyTable& ca_keys);

  hal::sim::SimNfcReader reader_;
  hal::sim::SimGate gate_;
  std::unique_ptr<journal::Journal> journal_;
  // Unpredictable numbers and sealing keys: seeded from the device id, so runs repeat.
  crypto::Drbg drbg_;
  tap::TapPipeline pipeline_;
  sync::SyncAgent agent_;
};

}  // namespace faregate::simulator
