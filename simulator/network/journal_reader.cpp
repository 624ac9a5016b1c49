#include "simulator/network/journal_reader.h"

#include <sqlite3.h>

#include <memory>

namespace faregate::simulator {

Result<JournalContents> read_journal(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return make_error(ErrorCode::kNotFound, "no journal at " + path.string());
  }
  sqlite3* raw = nullptr;
  const int opened = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close);
  if (opened != SQLITE_OK) {
    return make_error(ErrorCode::kIo, "cannot open " + path.string() + ": " +
                                          (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  JournalContents out;
  sqlite3_stmt* meta = nullptr;
  if (sqlite3_prepare_v2(db.get(), "SELECT last_seq, synced_through FROM journal_meta WHERE id = 1",
                         -1, &meta, nullptr) != SQLITE_OK) {
    return make_error(ErrorCode::kIo, "reading " + path.string() + ": " + sqlite3_errmsg(db.get()));
  }
  if (sqlite3_step(meta) == SQLITE_ROW) {
    out.last_seq = static_cast<std::uint64_t>(sqlite3_column_int64(meta, 0));
    out.synced_through = static_cast<std::uint64_t>(sqlite3_column_int64(meta, 1));
  }
  sqlite3_finalize(meta);
  sqlite3_stmt* raw_stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(), "SELECT seq, record FROM taps ORDER BY seq", -1, &raw_stmt,
                         nullptr) != SQLITE_OK) {
    return make_error(ErrorCode::kIo, "reading " + path.string() + ": " + sqlite3_errmsg(db.get()));
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw_stmt, sqlite3_finalize);
  int step = SQLITE_ROW;
  while ((step = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const auto seq = static_cast<std::uint64_t>(sqlite3_column_int64(stmt.get(), 0));
    const void* blob = sqlite3_column_blob(stmt.get(), 1);
    const int size = sqlite3_column_bytes(stmt.get(), 1);
    faregate::v1::TapRecord record;
    if (size < 0 || (size > 0 && !record.ParseFromArray(blob, size))) {
      return make_error(ErrorCode::kProtocol,
                        path.string() + ": the record of seq " + std::to_string(seq) + " does not parse");
    }
    out.taps.emplace(seq, std::move(record));
  }
  if (step != SQLITE_DONE) {
    return make_error(ErrorCode::kIo, "reading " + path.string() + ": " + sqlite3_errmsg(db.get()));
  }
  return out;
}

}  // namespace faregate::simulator
