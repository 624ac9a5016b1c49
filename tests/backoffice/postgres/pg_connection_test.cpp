#include "backoffice/postgres/pg_connection.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace faregate::postgres {
namespace {

TEST_CASE("parameters are bound in binary big-endian with their type OIDs", "[postgres]") {
  const std::string name = "dev-1";
  const std::vector<std::int64_t> seqs = {1, -2};
  Params params;
  params.int8(-1).int4(0x01020304).boolean(true).text(name).bytea("").int8_array(seqs);
  REQUIRE(params.size() == 6);
  REQUIRE(params.fits());
  const auto arrays = params.arrays();
  CHECK(arrays.types == std::vector<Oid>{kInt8Oid, kInt4Oid, kBoolOid, kTextOid, kByteaOid,
                                         kInt8ArrayOid});
  CHECK(arrays.formats == std::vector<int>(6, 1));
  CHECK(std::string(arrays.values[0], 8) == std::string(8, '\xFF'));
  CHECK(std::string(arrays.values[1], 4) == std::string("\x01\x02\x03\x04", 4));
  CHECK(std::string(arrays.values[2], 1) == std::string(1, '\1'));
  // Text is a view of the caller's bytes, not a copy.
  CHECK(arrays.values[3] == name.data());
  // An empty value is still non-null: libpq would read a null pointer as SQL NULL.
  CHECK(arrays.values[4] != nullptr);
  CHECK(arrays.lengths[4] == 0);
  // Header (5 x 4 bytes) and two elements of 4 + 8 bytes.
  CHECK(arrays.lengths[5] == 20 + 2 * 12);
}

TEST_CASE("a COPY binary stream starts with the PGCOPY signature, flags and extension length",
          "[postgres]") {
  const std::string header = copy_binary_header();
  REQUIRE(header.size() == 19);
  CHECK(header.substr(0, 11) == std::string("PGCOPY\n\377\r\n\0", 11));
  CHECK(header.substr(11) == std::string(8, '\0'));
  std::string out;
  append_be(out, 0xFFFF, 2);
  CHECK(out == "\xFF\xFF");
}

TEST_CASE("a malformed connection string is refused before connecting, without echoing it",
          "[postgres]") {
  auto conn = Connection::open("host=localhost password=s3cret bogus_keyword=1", 1, "test");
  REQUIRE_FALSE(conn);
  CHECK(conn.error().code == ErrorCode::kInvalidArgument);
  CHECK(conn.error().message.starts_with("malformed PostgreSQL connection string: "));
  CHECK(conn.error().message.find("s3cret") == std::string::npos);
}

TEST_CASE("an error without a connection or a result is unavailable and says what was done",
          "[postgres]") {
  const Error error = pg_error(nullptr, nullptr, "reading taps");
  CHECK(error.code == ErrorCode::kUnavailable);
  CHECK(error.message == "reading taps: out of memory");
}

}  // namespace
}  // namespace faregate::postgres
