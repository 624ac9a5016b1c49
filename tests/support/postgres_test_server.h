#pragma once
// For tests and benchmarks that need PostgreSQL: where the throw-away server of the ctest fixture
// faregate_postgres is (tests/support/postgres_fixture.sh, .cmake), a plain libpq connection for
// looking at (and damaging) the database behind a store's back, and a fresh schema per test so
// that tests running in parallel never see each other's tables.
//
// Test-only: everything here throws std::runtime_error on failure, which Catch2 reports as a
// failed test. A missing server is a failure, never a skip.

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

namespace faregate::testing {

// The base URI ("postgresql://faregate@127.0.0.1:PORT/faregate_test") of the test server: the
// first line of the file named by FAREGATE_TEST_POSTGRES_URI_FILE (set by the ctest fixture), or
// FAREGATE_TEST_POSTGRES_URI itself.
inline std::string postgres_test_uri() {
  if (const char* direct = std::getenv("FAREGATE_TEST_POSTGRES_URI");
      direct != nullptr && *direct) {
    return direct;
  }
  const char* file = std::getenv("FAREGATE_TEST_POSTGRES_URI_FILE");
  if (file == nullptr || *file == '\0') {
    throw std::runtime_error(
        "no PostgreSQL test server: run this test through ctest (fixture faregate_postgres), or "
        "start one with tests/support/postgres_fixture.sh start DIR and set "
        "FAREGATE_TEST_POSTGRES_URI_FILE=DIR/uri");
  }
  std::ifstream in(file);
  std::string uri;
  if (!std::getline(in, uri) || uri.empty()) {
    throw std::runtime_error(std::string("the PostgreSQL test server did not start: ") + file +
                             " is missing or empty (see the output of the test "
                             "\"postgres fixture: start a throw-away server\")");
  }
  return uri;
}

// Appends URI query parameters ("a=1&b=2") to a libpq URI.
inline std::string with_uri_params(const std::string& uri, std::string_view params) {
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + std::string(params);
}

// A plain libpq connection.
class PgAdmin {
 public:
  explicit PgAdmin(const std::string& uri) : conn_(PQconnectdb(uri.c_str())) {
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      throw std::runtime_error("cannot connect to the PostgreSQL test server: " +
                               std::string(PQerrorMessage(conn_.get())));
    }
    PQsetNoticeProcessor(
        conn_.get(), [](void*, const char*) {}, nullptr);
  }

  // Runs SQL (several statements allowed); throws if the server refuses it.
  void exec(const std::string& sql) { (void)run(sql); }

  // The first column of the first row as text ("" when there is no row or it is NULL).
  std::string query_text(const std::string& sql) {
    auto result = run(sql);
    if (PQntuples(result.get()) == 0 || PQgetisnull(result.get(), 0, 0)) return "";
    return PQgetvalue(result.get(), 0, 0);
  }
  std::int64_t query_int(const std::string& sql) { return std::stoll(query_text(sql)); }

  PGconn* get() { return conn_.get(); }

 private:
  struct Closer {
    void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
  };
  struct Clearer {
    void operator()(PGresult* result) const noexcept { PQclear(result); }
  };
  std::unique_ptr<PGresult, Clearer> run(const std::string& sql) {
    std::unique_ptr<PGresult, Clearer> result(PQexec(conn_.get(), sql.c_str()));
    const auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw std::runtime_error(sql + ": " + PQerrorMessage(conn_.get()));
    }
    return result;
  }
  std::unique_ptr<PGconn, Closer> conn_;
};

// A schema of its own for one test, dropped with everything in it at scope exit. uri() connects
// with that schema as the only one on search_path and with the schema's name as
// application_name, so a test can find its own sessions in pg_stat_activity.
class PgTestSchema {
 public:
  PgTestSchema() : base_uri_(postgres_test_uri()) {
    static std::atomic<unsigned> counter{0};
    std::random_device entropy;
    name_ = "fg_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(entropy() % 1'000'000);
    PgAdmin(base_uri_).exec("CREATE SCHEMA " + name_);
    admin_ = std::make_unique<PgAdmin>(uri());
  }
  ~PgTestSchema() {
    admin_.reset();
    try {
      PgAdmin(base_uri_).exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
    } catch (const std::exception&) {
      // The server may already be gone (a test that stops it); nothing left to clean then.
    }
  }
  PgTestSchema(const PgTestSchema&) = delete;
  PgTestSchema& operator=(const PgTestSchema&) = delete;

  const std::string& name() const { return name_; }
  const std::string& base_uri() const { return base_uri_; }
  std::string uri() const {
    return with_uri_params(base_uri_,
                           "options=-csearch_path%3D" + name_ + "&application_name=" + name_);
  }
  // A connection with search_path set to the schema.
  PgAdmin& admin() { return *admin_; }

 private:
  std::string base_uri_;
  std::string name_;
  std::unique_ptr<PgAdmin> admin_;
};

}  // namespace faregate::testing
