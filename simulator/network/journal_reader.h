#pragma once
// Reads a validator's journal file the way an auditor would: read-only, beside the validator
// that may still have it open (SQLite WAL allows one writer and readers at once). The scenario
// runner uses it to check each tap it made against what the validator journaled. The file
// format is docs/journal_schema.md; writing stays journal::Journal's job.

#include <cstdint>
#include <filesystem>
#include <map>

#include "common/error.h"
#include "faregate/v1/tap.pb.h"

namespace faregate::simulator {

struct JournalContents {
  std::map<std::uint64_t, faregate::v1::TapRecord> taps;  // every tap record still held, by seq
  std::uint64_t last_seq = 0;        // highest seq ever issued
  std::uint64_t synced_through = 0;  // the back office acknowledged 1..synced_through
};

// Reads the journal at `path`. Errors: kNotFound if the file is missing, kIo if it cannot be
// read, kProtocol for a record that does not parse.
Result<JournalContents> read_journal(const std::filesystem::path& path);

}  // namespace faregate::simulator
