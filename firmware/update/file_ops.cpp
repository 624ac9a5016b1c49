#include "firmware/update/file_ops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace faregate::update {

namespace {

std::unexpected<Error> os_error(std::string_view what, const std::filesystem::path& file) {
  return make_error(ErrorCode::kIo,
                    fmt::format("{} {}: {}", what, file.string(), std::strerror(errno)));
}

}  // namespace

Result<FileOps::Handle> PosixFileOps::create(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return os_error("cannot create", file);
  return fd;
}

Status PosixFileOps::append(Handle handle, ByteView data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(handle, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return make_error(ErrorCode::kIo, fmt::format("write failed: {}", std::strerror(errno)));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Status PosixFileOps::sync(Handle handle) {
  if (::fsync(handle) != 0) {
    return make_error(ErrorCode::kIo, fmt::format("fsync failed: {}", std::strerror(errno)));
  }
  return {};
}

Status PosixFileOps::close(Handle handle) {
  if (::close(handle) != 0) {
    return make_error(ErrorCode::kIo, fmt::format("close failed: {}", std::strerror(errno)));
  }
  return {};
}

Status PosixFileOps::rename(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return os_error("cannot rename to", to);
  return {};
}

Status PosixFileOps::sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return os_error("cannot open directory", dir);
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return os_error("cannot fsync directory", dir);
  return {};
}

Status PosixFileOps::remove(const std::filesystem::path& file) {
  if (::unlink(file.c_str()) != 0 && errno != ENOENT) return os_error("cannot remove", file);
  return {};
}

Status PosixFileOps::create_dir(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return os_error("cannot create directory", dir);
  }
  return {};
}

Result<Bytes> PosixFileOps::read(const std::filesystem::path& file, std::uint64_t max_bytes) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return make_error(ErrorCode::kNotFound, fmt::format("{} does not exist", file.string()));
    }
    return os_error("cannot open", file);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return os_error("cannot stat", file);
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return make_error(ErrorCode::kCorrupt, fmt::format("{} is {} bytes, more than the {} allowed",
                                                       file.string(), st.st_size, max_bytes));
  }
  Bytes out(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return os_error("cannot read", file);
    }
    if (n == 0) break;  // the file shrank while we read it: return what is there
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  ::close(fd);
  return out;
}

Status atomic_write_file(FileOps& ops, const std::filesystem::path& file, ByteView data,
                         std::size_t chunk_bytes, const WriteProgress& progress) {
  const std::filesystem::path tmp = file.string() + ".tmp";
  auto handle = ops.create(tmp);
  if (!handle) return std::unexpected(handle.error());
  const auto fail = [&](const Error& e) -> Status {
    (void)ops.close(*handle);
    (void)ops.remove(tmp);
    return std::unexpected(e);
  };
  if (chunk_bytes == 0) chunk_bytes = data.size();
  std::size_t done = 0;
  while (done < data.size()) {
    const std::size_t n = std::min(chunk_bytes, data.size() - done);
    if (auto ok = ops.append(*handle, data.subspan(done, n)); !ok) return fail(ok.error());
    done += n;
    if (progress) progress(done, data.size());
  }
  if (data.empty() && progress) progress(0, 0);
  if (auto ok = ops.sync(*handle); !ok) return fail(ok.error());
  if (auto ok = ops.close(*handle); !ok) {
    (void)ops.remove(tmp);
    return std::unexpected(ok.error());
  }
  if (auto ok = ops.rename(tmp, file); !ok) {
    (void)ops.remove(tmp);
    return std::unexpected(ok.error());
  }
  // Without this the rename may not survive a power cut, and the old file comes back.
  return ops.sync_dir(file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path());
}

}  // namespace faregate::update
