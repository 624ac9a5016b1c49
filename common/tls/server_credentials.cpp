#include "common/tls/server_credentials.h"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

namespace faregate::tls {

namespace {

std::string describe_file(const std::filesystem::path& path) {
  if (path.empty()) return "-;";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing;";
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
         std::to_string(st.st_size) + "/" + std::to_string(st.st_ino) + ";";
}

}  // namespace

Result<std::shared_ptr<ServerCredentials>> ServerCredentials::load(
    ServerFiles files, std::chrono::milliseconds check_every) {
  // The fingerprint is taken before reading, so that a change during the read is seen next time.
  std::string before = describe_file(files.certificate) + describe_file(files.private_key) +
                       describe_file(files.client_ca) + describe_file(files.revocation_list);
  auto context = ServerContext::load(files);
  if (!context) return std::unexpected(context.error());
  return std::shared_ptr<ServerCredentials>(new ServerCredentials(
      std::move(files), check_every, std::move(*context), std::move(before), Clock::now()));
}

ServerCredentials::Fingerprint ServerCredentials::fingerprint() const {
  return describe_file(files_.certificate) + describe_file(files_.private_key) +
         describe_file(files_.client_ca) + describe_file(files_.revocation_list);
}

bool ServerCredentials::reload_locked() {
  Fingerprint now = fingerprint();
  if (now == fingerprint_) return false;
  auto context = ServerContext::load(files_);
  if (!context) {
    ++reload_failures_;
    if (now != failed_fingerprint_) {
      spdlog::error("tls: changed credentials not loaded, still using the previous ones: {}",
                    context.error().describe());
      failed_fingerprint_ = now;
    }
    return false;
  }
  context_ = std::move(*context);
  fingerprint_ = std::move(now);
  failed_fingerprint_.clear();
  ++reloads_;
  spdlog::info("tls: credentials reloaded; the revocation list names {} certificates",
               context_->revoked_count());
  return true;
}

std::shared_ptr<const ServerContext> ServerCredentials::current(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (now - last_check_ >= check_every_) {
    last_check_ = now;
    reload_locked();
  }
  return context_;
}

bool ServerCredentials::reload_if_changed() {
  std::lock_guard lock(mutex_);
  last_check_ = Clock::now();
  return reload_locked();
}

std::uint64_t ServerCredentials::reloads() const {
  std::lock_guard lock(mutex_);
  return reloads_;
}

std::uint64_t ServerCredentials::reload_failures() const {
  std::lock_guard lock(mutex_);
  return reload_failures_;
}

std::size_t ServerCredentials::revoked_count() const {
  std::lock_guard lock(mutex_);
  return context_->revoked_count();
}

}  // namespace faregate::tls
