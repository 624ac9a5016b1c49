#include "tests/firmware/update/fault_file_ops.h"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace faregate::update::testing {

namespace {

std::optional<Bytes> contents_of(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_contents(const std::filesystem::path& file, const Bytes& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::uint64_t size_of(const std::filesystem::path& file) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(file, ec);
  return ec ? 0 : n;
}

std::filesystem::path parent_of(const std::filesystem::path& p) {
  return p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
}

}  // namespace

const char* to_string(LossModel model) {
  switch (model) {
    case LossModel::kEverythingLanded:
      return "everything landed";
    case LossModel::kUnsyncedLost:
      return "unsynced changes lost";
    case LossModel::kUnsyncedGarbage:
      return "unsynced data garbage";
  }
  return "?";
}

bool FaultFileOps::step(StepKind kind) {
  if (cut_) return false;
  kinds_.push_back(kind);
  if (cut_at_ != 0 && kinds_.size() == cut_at_) {
    cut_ = true;
    return false;
  }
  return true;
}

Status FaultFileOps::dead() const { return make_error(ErrorCode::kIo, "power cut"); }

Result<FileOps::Handle> FaultFileOps::create(const std::filesystem::path& file) {
  if (!step(StepKind::kCreate)) return std::unexpected(dead().error());
  auto old = contents_of(file);
  auto handle = real_.create(file);
  if (!handle) return handle;
  open_[*handle] = file;
  if (old) {
    undo_.push_back({Undo::Kind::kTruncated, file, {}, std::move(old), 0, false});
  } else {
    undo_.push_back({Undo::Kind::kNewEntry, file, {}, std::nullopt, 0, false});
  }
  return handle;
}

Status FaultFileOps::append(Handle handle, ByteView data) {
  const auto& file = open_.at(handle);
  const std::uint64_t before = size_of(file);
  if (!step(StepKind::kAppend)) {
    if (partial_ && !data.empty()) {
      (void)real_.append(handle, data.first(data.size() / 2));
      undo_.push_back({Undo::Kind::kData, file, {}, std::nullopt, before, false});
    }
    return dead();
  }
  if (auto ok = real_.append(handle, data); !ok) return ok;
  undo_.push_back({Undo::Kind::kData, file, {}, std::nullopt, before, false});
  return {};
}

Status FaultFileOps::sync(Handle handle) {
  if (!step(StepKind::kSync)) return dead();
  if (auto ok = real_.sync(handle); !ok) return ok;
  const auto& file = open_.at(handle);
  // Data and size of this file are durable now; a truncating create of an existing file too.
  for (auto& u : undo_) {
    if (u.path == file && (u.kind == Undo::Kind::kData || u.kind == Undo::Kind::kTruncated)) {
      u.durable = true;
    }
  }
  return {};
}

Status FaultFileOps::close(Handle handle) {
  if (!step(StepKind::kClose)) return dead();
  auto ok = real_.close(handle);
  open_.erase(handle);
  return ok;
}

Status FaultFileOps::rename(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (!step(StepKind::kRename)) return dead();
  for (const auto& u : undo_) {
    if (!u.durable && u.kind == Undo::Kind::kData && u.path == from) {
      ordering_bug_ = "renamed " + from.string() + " before its data was synced";
    }
  }
  // Two renames in flight would rely on the file system keeping their order across a power
  // loss, which it does not promise: each must be made durable (sync_dir) before the next.
  for (const auto& u : undo_) {
    if (!u.durable && u.kind == Undo::Kind::kRename) {
      ordering_bug_ = "renamed " + from.string() + " while the rename to " + u.path.string() +
                      " was not durable";
    }
  }
  auto old = contents_of(to);
  if (auto ok = real_.rename(from, to); !ok) return ok;
  undo_.push_back({Undo::Kind::kRename, to, from, std::move(old), 0, false});
  return {};
}

Status FaultFileOps::sync_dir(const std::filesystem::path& dir) {
  if (!step(StepKind::kSyncDir)) return dead();
  if (auto ok = real_.sync_dir(dir); !ok) return ok;
  mark_dir_durable(dir);
  return {};
}

void FaultFileOps::mark_dir_durable(const std::filesystem::path& dir) {
  for (auto& u : undo_) {
    if (u.kind == Undo::Kind::kData || u.kind == Undo::Kind::kTruncated) continue;
    if (parent_of(u.path) == dir) u.durable = true;
  }
}

Status FaultFileOps::remove(const std::filesystem::path& file) {
  if (!step(StepKind::kRemove)) return dead();
  auto old = contents_of(file);
  if (auto ok = real_.remove(file); !ok) return ok;
  if (old) undo_.push_back({Undo::Kind::kRemoved, file, {}, std::move(old), 0, false});
  return {};
}

Status FaultFileOps::create_dir(const std::filesystem::path& dir) {
  if (!step(StepKind::kCreateDir)) return dead();
  std::error_code ec;
  const bool existed = std::filesystem::is_directory(dir, ec);
  if (auto ok = real_.create_dir(dir); !ok) return ok;
  if (!existed) undo_.push_back({Undo::Kind::kNewDir, dir, {}, std::nullopt, 0, false});
  return {};
}

Result<Bytes> FaultFileOps::read(const std::filesystem::path& file, std::uint64_t max_bytes) {
  if (cut_) return std::unexpected(dead().error());
  return real_.read(file, max_bytes);
}

void FaultFileOps::restore_after_power_loss(LossModel model) {
  // Close what the dead process had open, as the kernel would.
  for (const auto& [handle, file] : open_) (void)real_.close(handle);
  open_.clear();
  if (model == LossModel::kEverythingLanded) return;
  std::uint8_t garbage = 0x5a;
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    const Undo& u = *it;
    if (u.durable) continue;
    std::error_code ec;
    switch (u.kind) {
      case Undo::Kind::kData: {
        auto now = contents_of(u.path);
        if (!now || now->size() <= u.durable_size) break;
        if (model == LossModel::kUnsyncedLost) {
          now->resize(u.durable_size);
        } else {
          for (std::size_t i = u.durable_size; i < now->size(); ++i) {
            garbage = static_cast<std::uint8_t>(garbage * 31 + 7);
            (*now)[i] = garbage;
          }
        }
        write_contents(u.path, *now);
        break;
      }
      case Undo::Kind::kNewEntry:
        std::filesystem::remove(u.path, ec);
        break;
      case Undo::Kind::kTruncated:
      case Undo::Kind::kRemoved:
        write_contents(u.path, *u.old_contents);
        break;
      case Undo::Kind::kRename:
        std::filesystem::rename(u.path, u.other, ec);
        if (u.old_contents) write_contents(u.path, *u.old_contents);
        break;
      case Undo::Kind::kNewDir:
        std::filesystem::remove_all(u.path, ec);
        break;
    }
  }
}

}  // namespace faregate::update::testing
