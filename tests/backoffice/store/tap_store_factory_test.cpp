// open_tap_store: the --store specification of the back-office programs.

#include "backoffice/store/tap_store_factory.h"

#include <catch2/catch.hpp>
#include <string>

#include "tests/backoffice/backoffice_test_support.h"
#include "tests/support/postgres_test_server.h"

using faregate::ErrorCode;
using faregate::store::open_tap_store;
using faregate::store::redact_store_spec;
using faregate::testing::make_taps;
using faregate::testing::PgTestSchema;
using faregate::testing::ScratchDir;

TEST_CASE("sqlite:PATH opens an SQLite tap store at PATH") {
  ScratchDir dir;
  const auto path = dir.path() / "taps.db";
  {
    auto store = open_tap_store("sqlite:" + path.string());
    REQUIRE(store);
    REQUIRE((*store)->store_batch("gate-1", make_taps("gate-1", 1, 3)));
  }
  CHECK(std::filesystem::exists(path));
  auto again = open_tap_store("sqlite:" + path.string());
  REQUIRE(again);
  CHECK((*again)->tap_count().value() == 3);
}

TEST_CASE("a store spec of neither form is refused without echoing it") {
  for (const std::string spec :
       {"", "sqlite:", "taps.db", "mysql://root:hunter2@db/x", "postgresql:/x", "SQLITE:x"}) {
    INFO(spec);
    auto store = open_tap_store(spec);
    REQUIRE_FALSE(store);
    CHECK(store.error().code == ErrorCode::kInvalidArgument);
    CHECK(store.error().message.find("hunter2") == std::string::npos);
  }
}

TEST_CASE("an SQLite path in a missing directory is an error value") {
  ScratchDir dir;
  auto store = open_tap_store("sqlite:" + (dir.path() / "missing" / "taps.db").string());
  REQUIRE_FALSE(store);
  CHECK(store.error().code == ErrorCode::kIo);
}

TEST_CASE("redact_store_spec hides passwords and nothing else") {
  CHECK(redact_store_spec("sqlite:/var/lib/faregate/taps.db") ==
        "sqlite:/var/lib/faregate/taps.db");
  CHECK(redact_store_spec("postgresql://bo@db.example:5432/fare") ==
        "postgresql://bo@db.example:5432/fare");
  CHECK(redact_store_spec("postgresql://bo:s3cr:et@db.example:5432/fare") ==
        "postgresql://bo:***@db.example:5432/fare");
  CHECK(redact_store_spec("postgres://bo:pw@db/fare?sslmode=require&password=other&x=1") ==
        "postgres://bo:***@db/fare?sslmode=require&password=***&x=1");
  CHECK(redact_store_spec("postgresql://db.example/fare?password=pw") ==
        "postgresql://db.example/fare?password=***");
}

TEST_CASE("postgresql://... opens a PostgreSQL tap store", "[postgresql]") {
  PgTestSchema schema;
  {
    auto store = open_tap_store(schema.uri());
    REQUIRE(store);
    REQUIRE((*store)->store_batch("gate-1", make_taps("gate-1", 1, 4)));
  }
  CHECK(schema.admin().query_int("SELECT count(*) FROM taps") == 4);
  auto again =
      open_tap_store("postgres://" + schema.uri().substr(std::string("postgresql://").size()));
  REQUIRE(again);
  CHECK((*again)->stored_through("gate-1").value() == 4);
}
