#include "backoffice/firmware/firmware_offers.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>
#include <utility>

namespace faregate::firmware {

namespace {

// "FGFO": a Faregate firmware-offer store; opening another SQLite file by mistake fails.
constexpr std::int32_t kApplicationId = 0x4647464F;
constexpr std::int64_t kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE offers (
  device_group TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  security_counter INTEGER NOT NULL,
  image_size INTEGER NOT NULL,
  image_sha256 BLOB NOT NULL,
  offered_utc_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// The fixed header of docs/firmware_image.md. Only what an offer needs is read here; the
// validator's verifier (firmware/update) is the authority on images.
constexpr std::size_t kHeaderBytes = 160;
constexpr std::uint8_t kMagic[4] = {'F', 'G', 'F', 'W'};
constexpr std::uint64_t kMaxPayloadBytes = 256ull * 1024 * 1024;
constexpr std::size_t kMinSignatureBytes = 8;
constexpr std::size_t kMaxSignatureBytes = 72;
constexpr std::size_t kVersionField = 32;

std::uint64_t read_le(ByteView bytes, std::size_t at, std::size_t width) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) value |= std::uint64_t{bytes[at + i]} << (8 * i);
  return value;
}

Error sqlite_error(sqlite3* db, int rc, std::string_view doing) {
  const int primary = rc & 0xFF;
  const ErrorCode code = primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ? ErrorCode::kCorrupt
                                                                               : ErrorCode::kIo;
  return Error{code, std::string(doing) + ": " +
                         (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc))};
}

Status exec(sqlite3* db, const char* sql, std::string_view doing) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db, rc, doing));
  return {};
}

class Statement {
 public:
  static Result<Statement> prepare(sqlite3* db, const char* sql) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db, rc, "preparing a statement"));
    return Statement(db, raw);
  }
  Statement(Statement&& other) noexcept
      : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  void bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void bind_blob(int index, ByteView blob) {
    static const std::uint8_t kEmpty = 0;
    sqlite3_bind_blob(stmt_, index, blob.empty() ? &kEmpty : blob.data(),
                      static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  }
  Result<bool> step(std::string_view doing) {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return std::unexpected(sqlite_error(db_, rc, doing));
  }
  std::int64_t column_int(int column) { return sqlite3_column_int64(stmt_, column); }
  std::string column_text(int column) {
    const auto* text = sqlite3_column_text(stmt_, column);
    return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
  }
  Bytes column_blob(int column) {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
    const int size = sqlite3_column_bytes(stmt_, column);
    return data == nullptr ? Bytes{} : Bytes(data, data + size);
  }
  int changes() { return sqlite3_changes(db_); }

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

Result<std::int64_t> query_int(sqlite3* db, const char* sql) {
  auto statement = Statement::prepare(db, sql);
  if (!statement) return std::unexpected(statement.error());
  auto row = statement->step(sql);
  if (!row) return std::unexpected(row.error());
  if (!*row) return make_error(ErrorCode::kInternal, std::string(sql) + ": no row");
  return statement->column_int(0);
}

std::filesystem::path image_path(const std::filesystem::path& root,
                                 const crypto::Sha256Digest& sha) {
  return root / "images" / (to_hex(sha) + ".fgi");
}

// Reads a whole file of at most `max_bytes`. kNotFound if it does not exist.
Result<Bytes> read_file(const std::filesystem::path& file, std::uint64_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    return make_error(ErrorCode::kNotFound, file.string() + " does not exist");
  }
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot read " + file.string() + ": " + ec.message());
  if (size > max_bytes) {
    return make_error(ErrorCode::kCorrupt, file.string() + " is larger than any firmware image (" +
                                               std::to_string(size) + " bytes)");
  }
  std::ifstream in(file, std::ios::binary);
  Bytes data(size);
  if (!in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(size))) {
    return make_error(ErrorCode::kIo, "cannot read " + file.string());
  }
  return data;
}

// write "<file>.tmp", fsync, rename, fsync the directory: an image file is whole or absent.
Status write_file_durably(const std::filesystem::path& file, ByteView data) {
  const auto tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot create " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return make_error(ErrorCode::kIo, "cannot write " + tmp + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return make_error(ErrorCode::kIo, "cannot sync " + tmp + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    return make_error(ErrorCode::kIo, "cannot rename " + tmp + ": " + std::strerror(errno));
  }
  const int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return make_error(ErrorCode::kIo, "cannot open " + file.parent_path().string());
  const int synced = ::fsync(dir);
  ::close(dir);
  if (synced != 0) return make_error(ErrorCode::kIo, "cannot sync " + file.parent_path().string());
  return {};
}

}  // namespace

Status check_device_group(std::string_view group) {
  if (group.empty() || group.size() > kMaxDeviceGroupChars) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a device group has 1 to " + std::to_string(kMaxDeviceGroupChars) +
                          " characters");
  }
  for (const char c : group) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return make_error(ErrorCode::kInvalidArgument,
                        "a device group uses only letters, digits, '.', '_' and '-'");
    }
  }
  return {};
}

Result<ImageSummary> summarize_image(ByteView image) {
  if (image.size() < kHeaderBytes) return make_error(ErrorCode::kCorrupt, "image truncated");
  if (std::memcmp(image.data(), kMagic, sizeof kMagic) != 0) {
    return make_error(ErrorCode::kCorrupt, "not a Faregate firmware image (bad magic)");
  }
  if (const auto format = read_le(image, 4, 2); format != 1) {
    return make_error(ErrorCode::kCorrupt,
                      "unsupported image format version " + std::to_string(format));
  }
  if (read_le(image, 6, 2) != kHeaderBytes) {
    return make_error(ErrorCode::kCorrupt, "unexpected header length");
  }
  const auto check = crypto::sha256(image.subspan(0, 128));
  if (std::memcmp(check.data(), image.data() + 128, check.size()) != 0) {
    return make_error(ErrorCode::kCorrupt, "header check failed: the header was damaged or altered");
  }
  ImageSummary summary;
  std::size_t length = 0;
  while (length < kVersionField && image[8 + length] != 0) ++length;
  for (std::size_t i = 0; i < kVersionField; ++i) {
    const std::uint8_t c = image[8 + i];
    if ((i < length && (c < 0x21 || c > 0x7e)) || (i >= length && c != 0)) {
      return make_error(ErrorCode::kCorrupt, "bad firmware version field");
    }
  }
  if (length == 0) return make_error(ErrorCode::kCorrupt, "empty firmware version");
  summary.version.assign(reinterpret_cast<const char*>(image.data() + 8), length);
  summary.security_counter = read_le(image, 40, 8);
  const std::uint64_t payload_length = read_le(image, 48, 8);
  if (payload_length > kMaxPayloadBytes) {
    return make_error(ErrorCode::kCorrupt, "payload length over the 256 MiB limit");
  }
  const std::uint64_t signed_bytes = kHeaderBytes + payload_length;
  if (image.size() < signed_bytes + kMinSignatureBytes) {
    return make_error(ErrorCode::kCorrupt, "image truncated");
  }
  if (image.size() > signed_bytes + kMaxSignatureBytes) {
    return make_error(ErrorCode::kCorrupt, "bytes were added after the signature");
  }
  const auto payload_sha = crypto::sha256(image.subspan(kHeaderBytes, payload_length));
  if (std::memcmp(payload_sha.data(), image.data() + 56, payload_sha.size()) != 0) {
    return make_error(ErrorCode::kCorrupt,
                      "payload SHA-256 does not match the header: the payload was damaged or altered");
  }
  summary.image_size = image.size();
  summary.image_sha256 = crypto::sha256(image);
  return summary;
}

faregate::v1::FirmwareOffer Offer::to_proto() const {
  faregate::v1::FirmwareOffer out;
  out.set_version(image.version);
  out.set_security_counter(image.security_counter);
  out.set_image_size(image.image_size);
  out.set_image_sha256(std::string(image.image_sha256.begin(), image.image_sha256.end()));
  return out;
}

FirmwareOffers::FirmwareOffers(sqlite3* db, std::filesystem::path root)
    : db_(db), root_(std::move(root)) {}

FirmwareOffers::~FirmwareOffers() { sqlite3_close_v2(db_); }

Result<std::unique_ptr<FirmwareOffers>> FirmwareOffers::open(const std::filesystem::path& data_dir) {
  const auto root = data_dir / "firmware";
  std::error_code ec;
  std::filesystem::create_directories(root / "images", ec);
  if (ec) {
    return make_error(ErrorCode::kIo, "cannot create " + (root / "images").string() + ": " +
                                          ec.message());
  }
  const auto path = root / "offers.db";
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 nullptr);
  std::unique_ptr<FirmwareOffers> store(new FirmwareOffers(raw, root));
  const std::string what = "opening firmware offer store " + path.string();
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(raw, rc, what));
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_extended_result_codes(raw, 1);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    if (auto s = exec(raw, pragma, what); !s) return std::unexpected(s.error());
  }
  auto version = query_int(raw, "PRAGMA user_version");
  if (!version) return with_context(version.error(), what);
  if (*version == 0) {
    auto objects = query_int(raw, "SELECT count(*) FROM sqlite_schema");
    if (!objects) return with_context(objects.error(), what);
    if (*objects != 0) return make_error(ErrorCode::kCorrupt, what + ": the file holds other tables");
    const std::string setup = std::string("BEGIN IMMEDIATE;") + kSchema +
                              "PRAGMA application_id=" + std::to_string(kApplicationId) +
                              "; PRAGMA user_version=" + std::to_string(kSchemaVersion) +
                              "; COMMIT;";
    if (auto s = exec(raw, setup.c_str(), what); !s) {
      sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
      return std::unexpected(s.error());
    }
  } else {
    auto application = query_int(raw, "PRAGMA application_id");
    if (!application) return with_context(application.error(), what);
    if (*application != kApplicationId || *version > kSchemaVersion) {
      return make_error(ErrorCode::kCorrupt,
                        what + ": not a firmware offer store of a schema this program knows");
    }
  }
  return store;
}

Result<Offer> FirmwareOffers::offer(const std::filesystem::path& image_file,
                                    const std::string& device_group, std::int64_t now_utc_ms) {
  if (auto s = check_device_group(device_group); !s) return std::unexpected(s.error());
  auto image = read_file(image_file, kMaxOfferedImageBytes);
  if (!image) return std::unexpected(image.error());
  auto summary = summarize_image(*image);
  if (!summary) return with_context(summary.error(), image_file.string());

  std::lock_guard lock(mutex_);
  const auto stored = image_path(root_, summary->image_sha256);
  if (auto s = write_file_durably(stored, *image); !s) return std::unexpected(s.error());
  auto statement = Statement::prepare(
      db_, "INSERT OR REPLACE INTO offers (device_group, version, security_counter, image_size, "
           "image_sha256, offered_utc_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!statement) return std::unexpected(statement.error());
  statement->bind(1, std::string_view(device_group));
  statement->bind(2, std::string_view(summary->version));
  statement->bind(3, static_cast<std::int64_t>(summary->security_counter));
  statement->bind(4, static_cast<std::int64_t>(summary->image_size));
  statement->bind_blob(5, summary->image_sha256);
  statement->bind(6, now_utc_ms);
  if (auto done = statement->step("storing the offer"); !done) return std::unexpected(done.error());
  prune_images_locked();
  return Offer{device_group, *summary, stored, now_utc_ms};
}

Result<bool> FirmwareOffers::withdraw(const std::string& device_group) {
  std::lock_guard lock(mutex_);
  auto statement = Statement::prepare(db_, "DELETE FROM offers WHERE device_group = ?1");
  if (!statement) return std::unexpected(statement.error());
  statement->bind(1, std::string_view(device_group));
  if (auto done = statement->step("withdrawing the offer"); !done) {
    return std::unexpected(done.error());
  }
  const bool removed = statement->changes() > 0;
  prune_images_locked();
  return removed;
}

Result<std::optional<Offer>> FirmwareOffers::offer_for(const std::string& device_group) {
  std::lock_guard lock(mutex_);
  return offer_locked(device_group);
}

Result<std::optional<Offer>> FirmwareOffers::offer_locked(const std::string& device_group) {
  auto statement = Statement::prepare(
      db_, "SELECT version, security_counter, image_size, image_sha256, offered_utc_ms FROM "
           "offers WHERE device_group = ?1");
  if (!statement) return std::unexpected(statement.error());
  statement->bind(1, std::string_view(device_group));
  auto row = statement->step("reading the offer");
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<Offer>();
  Offer offer;
  offer.device_group = device_group;
  offer.image.version = statement->column_text(0);
  offer.image.security_counter = static_cast<std::uint64_t>(statement->column_int(1));
  offer.image.image_size = static_cast<std::uint64_t>(statement->column_int(2));
  const Bytes sha = statement->column_blob(3);
  if (sha.size() != offer.image.image_sha256.size()) {
    return make_error(ErrorCode::kCorrupt, "the offer of group " + device_group +
                                               " has a damaged SHA-256");
  }
  std::copy(sha.begin(), sha.end(), offer.image.image_sha256.begin());
  offer.offered_utc_ms = statement->column_int(4);
  offer.image_file = image_path(root_, offer.image.image_sha256);
  return std::optional<Offer>(std::move(offer));
}

Result<std::vector<Offer>> FirmwareOffers::list() {
  std::vector<std::string> groups;
  {
    std::lock_guard lock(mutex_);
    auto statement =
        Statement::prepare(db_, "SELECT device_group FROM offers ORDER BY device_group");
    if (!statement) return std::unexpected(statement.error());
    for (;;) {
      auto row = statement->step("listing offers");
      if (!row) return std::unexpected(row.error());
      if (!*row) break;
      groups.push_back(statement->column_text(0));
    }
  }
  std::vector<Offer> offers;
  for (const auto& group : groups) {
    auto offer = offer_for(group);
    if (!offer) return std::unexpected(offer.error());
    if (*offer) offers.push_back(std::move(**offer));
  }
  return offers;
}

Result<Bytes> FirmwareOffers::read_chunk(const std::string& device_group, ByteView image_sha256,
                                         std::uint64_t offset, std::uint32_t length) {
  if (length == 0 || length > kMaxChunkBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "chunk length " + std::to_string(length) + " is not 1.." +
                          std::to_string(kMaxChunkBytes));
  }
  std::optional<Offer> offer;
  {
    std::lock_guard lock(mutex_);
    auto found = offer_locked(device_group);
    if (!found) return std::unexpected(found.error());
    offer = std::move(*found);
  }
  if (!offer || image_sha256.size() != offer->image.image_sha256.size() ||
      !std::equal(image_sha256.begin(), image_sha256.end(), offer->image.image_sha256.begin())) {
    return make_error(ErrorCode::kNotFound,
                      "that image is not offered to group '" + device_group + "'");
  }
  if (offset >= offer->image.image_size) {
    return make_error(ErrorCode::kInvalidArgument,
                      "offset " + std::to_string(offset) + " is beyond the " +
                          std::to_string(offer->image.image_size) + "-byte image");
  }
  const std::uint64_t count = std::min<std::uint64_t>(length, offer->image.image_size - offset);
  const int fd = ::open(offer->image_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(ErrorCode::kIo, "cannot open " + offer->image_file.string() + ": " +
                                          std::strerror(errno));
  }
  Bytes data(count);
  std::uint64_t done = 0;
  while (done < count) {
    const ssize_t n = ::pread(fd, data.data() + done, count - done,
                              static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  if (done != count) {
    return make_error(ErrorCode::kCorrupt,
                      offer->image_file.string() + " is shorter than the offered image");
  }
  return data;
}

void FirmwareOffers::prune_images_locked() {
  // Images no group is offered any more: validators still downloading one are told
  // "firmware_unavailable" and pick up the group's new offer on their next session.
  std::set<std::string> keep;
  auto statement = Statement::prepare(db_, "SELECT image_sha256 FROM offers");
  if (!statement) return;
  for (;;) {
    auto row = statement->step("listing offered images");
    if (!row || !*row) break;
    keep.insert(to_hex(statement->column_blob(0)) + ".fgi");
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root_ / "images", ec)) {
    const auto name = entry.path().filename().string();
    if (name.ends_with(".fgi") && !keep.contains(name)) std::filesystem::remove(entry.path(), ec);
  }
}

}  // namespace faregate::firmware
