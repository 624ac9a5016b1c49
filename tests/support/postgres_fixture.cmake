# The ctest fixture faregate_postgres: one throw-away PostgreSQL server (tests/support/
# postgres_fixture.sh) started before the first test that needs it and stopped after the last.
# Tests that need it get FAREGATE_POSTGRES_TEST_PROPERTIES, e.g.
#   catch_discover_tests(my_test PROPERTIES ${FAREGATE_POSTGRES_TEST_PROPERTIES})
# and read the server's URI with faregate::testing::postgres_test_uri()
# (tests/support/postgres_test_server.h). If the server cannot start, the setup test fails and
# so does every test that requires it: nothing is skipped silently.
set(FAREGATE_POSTGRES_STATE_DIR ${CMAKE_BINARY_DIR}/tests/postgres-fixture)
set(FAREGATE_POSTGRES_TEST_PROPERTIES
    FIXTURES_REQUIRED faregate_postgres
    ENVIRONMENT "FAREGATE_TEST_POSTGRES_URI_FILE=${FAREGATE_POSTGRES_STATE_DIR}/uri"
    LABELS postgresql)

get_property(_faregate_postgres_defined GLOBAL PROPERTY FAREGATE_POSTGRES_FIXTURE_DEFINED)
if(NOT _faregate_postgres_defined)
  set_property(GLOBAL PROPERTY FAREGATE_POSTGRES_FIXTURE_DEFINED TRUE)
  add_test(NAME "postgres fixture: start a throw-away server"
           COMMAND ${PROJECT_SOURCE_DIR}/tests/support/postgres_fixture.sh start
                   ${FAREGATE_POSTGRES_STATE_DIR})
  set_tests_properties("postgres fixture: start a throw-away server" PROPERTIES
    FIXTURES_SETUP faregate_postgres LABELS postgresql TIMEOUT 180)
  add_test(NAME "postgres fixture: stop the server"
           COMMAND ${PROJECT_SOURCE_DIR}/tests/support/postgres_fixture.sh stop
                   ${FAREGATE_POSTGRES_STATE_DIR})
  set_tests_properties("postgres fixture: stop the server" PROPERTIES
    FIXTURES_CLEANUP faregate_postgres LABELS postgresql TIMEOUT 120)
endif()
