# The throwaway PostgreSQL of the integration tests.
#
# Fixture `pg_cluster`: pg_cluster_start starts a cluster in VECMIRROR_TEST_PGDIR with
# scripts/pg-cluster.sh (initdb the first time, logical replication on, a free port from 54329
# up) and drops what killed tests left behind; pg_cluster_stop stops it after the last test
# that requires it. A test opts in with vecmirror_test(... FIXTURES pg_cluster), which also
# passes VECMIRROR_TEST_PGDIR, and links vecmirror_test_pg (tests/support/pg_env.h).
# This file is included before the other fragments: they read VECMIRROR_TEST_PGDIR.
set(VECMIRROR_TEST_PGDIR "${PROJECT_BINARY_DIR}/test-pg" CACHE PATH
    "Directory of the throwaway PostgreSQL that the pg_cluster test fixture runs")

set(_vecmirror_pg_cluster "${PROJECT_SOURCE_DIR}/scripts/pg-cluster.sh")
add_test(NAME pg_cluster_start
  COMMAND bash -c "\"$0\" start \"$1\" && \"$0\" clean \"$1\""
          ${_vecmirror_pg_cluster} ${VECMIRROR_TEST_PGDIR})
set_tests_properties(pg_cluster_start PROPERTIES FIXTURES_SETUP pg_cluster TIMEOUT 180)
add_test(NAME pg_cluster_stop COMMAND bash ${_vecmirror_pg_cluster} stop ${VECMIRROR_TEST_PGDIR})
set_tests_properties(pg_cluster_stop PROPERTIES FIXTURES_CLEANUP pg_cluster TIMEOUT 120)

# Helpers for C++ tests: the cluster's conninfo, scratch databases, running SQL files.
add_library(vecmirror_test_pg STATIC ${CMAKE_CURRENT_SOURCE_DIR}/support/pg_env.cc)
target_include_directories(vecmirror_test_pg PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(vecmirror_test_pg PUBLIC PkgConfig::PQ)
target_compile_definitions(vecmirror_test_pg PRIVATE
  VECMIRROR_DEFAULT_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  VECMIRROR_DEFAULT_TEST_PGDIR="${VECMIRROR_TEST_PGDIR}")

vecmirror_test(pg_env_test pg_env_test.cc
  LIBS vecmirror_test_pg
  LABELS postgres
  FIXTURES pg_cluster
  TIMEOUT 120)
