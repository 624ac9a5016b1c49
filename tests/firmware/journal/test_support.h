#pragma once
// Helpers shared by the journal tests: realistic tap records and a raw SQLite connection for
// looking at (and damaging) the file behind the Journal's back.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "common/bytes.h"
#include "faregate/v1/tap.pb.h"

namespace faregate::journal::test {

// 32 bytes derived from n, standing in for HMAC-SHA256(key, PAN || PSN).
inline std::string card_token(std::uint64_t n) {
  std::string token(32, '\0');
  std::uint64_t x = n * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
  for (char& c : token) {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ULL;
    c = static_cast<char>(x >> 56);
  }
  return token;
}

// A tap as the pipeline would journal it; every field depends on n so records differ.
inline faregate::v1::TapRecord make_tap(std::uint64_t n, std::int64_t tap_time_utc_ms = 0) {
  faregate::v1::TapRecord tap;
  tap.set_tap_time_utc_ms(tap_time_utc_ms != 0
                              ? tap_time_utc_ms
                              : 1'717'200'000'000 + static_cast<std::int64_t>(n) * 1'000);
  tap.set_monotonic_ms(n);
  tap.set_stop_id("stop-" + std::to_string(n % 97));
  tap.set_role(faregate::v1::VALIDATOR_ROLE_ENTRY);
  tap.set_card_token(card_token(n));
  tap.set_scheme(faregate::v1::CARD_SCHEME_VISA);
  tap.set_pan_last4("4242");
  tap.set_sealed_card_data(std::string(120, static_cast<char>('a' + n % 26)));
  tap.set_oda(faregate::v1::ODA_RESULT_FDDA);
  tap.set_decision(faregate::v1::DECISION_ACCEPT);
  tap.set_reason("ok");
  tap.set_atc(static_cast<std::uint32_t>(n & 0xffff));
  tap.set_firmware_version("1.4.2");
  return tap;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// A plain SQLite connection to a file, for checks the Journal API does not offer. Test-only:
// throws on failure, which Catch2 reports as a failed test.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
      std::string message = sqlite3_errmsg(db_);
      sqlite3_close(db_);
      throw std::runtime_error("cannot open " + path.string() + ": " + message);
    }
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    }
  }

  // The first column of the first row, as text ("" when there is no row).
  std::string query_text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    }
    std::string text;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const unsigned char* p = sqlite3_column_text(stmt, 0);
      if (p != nullptr) text = reinterpret_cast<const char*>(p);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      throw std::runtime_error(sql + ": " + sqlite3_errstr(rc));
    }
    return text;
  }

  std::int64_t query_int(const std::string& sql) { return std::stoll(query_text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace faregate::journal::test
