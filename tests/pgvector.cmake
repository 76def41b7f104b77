# The pgvector `vector` column path end to end, without pgvector (not packaged for Debian 12).
#
# vecmirror_vector_shim is a small PostgreSQL module, a TEST STAND-IN with pgvector's on-disk
# layout and text and binary formats (tests/pgvector_shim/vector_shim.c); it is not pgvector.
# integration_pgvector_test installs it in a scratch database of the pg_cluster fixture and runs
# the real server against a `vector` column.
#
# Building a server module needs PostgreSQL's server headers (Debian: postgresql-server-dev-15,
# which scripts/install-deps.sh installs). Without them the test is skipped, with a message.
# The module must be built for the major version the test cluster runs, so pg_config is taken
# from the same place as scripts/pg-cluster.sh takes the server: $VECMIRROR_PG_BIN, else
# /usr/lib/postgresql/15/bin, else $PATH.

find_program(VECMIRROR_PG_CONFIG pg_config
  HINTS $ENV{VECMIRROR_PG_BIN} /usr/lib/postgresql/15/bin
  DOC "pg_config of the PostgreSQL that the integration tests run")

set(_vecmirror_pg_server_includes "")
if(VECMIRROR_PG_CONFIG)
  execute_process(COMMAND ${VECMIRROR_PG_CONFIG} --includedir-server
    OUTPUT_VARIABLE _vecmirror_pg_server_includes
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _vecmirror_pg_config_rc
    ERROR_QUIET)
  if(NOT _vecmirror_pg_config_rc EQUAL 0)
    set(_vecmirror_pg_server_includes "")
  endif()
endif()

if(NOT _vecmirror_pg_server_includes OR NOT EXISTS "${_vecmirror_pg_server_includes}/postgres.h")
  message(STATUS "integration_pgvector_test skipped: no PostgreSQL server headers "
                 "(pg_config: ${VECMIRROR_PG_CONFIG}); install postgresql-server-dev-15")
  return()
endif()

enable_language(C)

add_library(vecmirror_vector_shim MODULE ${CMAKE_CURRENT_SOURCE_DIR}/pgvector_shim/vector_shim.c)
target_include_directories(vecmirror_vector_shim SYSTEM PRIVATE ${_vecmirror_pg_server_includes})
# PostgreSQL's own code generation flags that modules are expected to share (see pg_config
# --cflags): signed overflow wraps, no type-based alias analysis.
target_compile_options(vecmirror_vector_shim PRIVATE -fwrapv -fno-strict-aliasing)
set_target_properties(vecmirror_vector_shim PROPERTIES
  C_STANDARD 99
  PREFIX ""
  OUTPUT_NAME vecmirror_vector_shim)

vecmirror_test(integration_pgvector_test integration_pgvector_test.cc
  LIBS vecmirror_proto vecmirror_datagen vecmirror_test_pg PkgConfig::PQ Threads::Threads
  FIXTURES pg_cluster
  LABELS integration
  TIMEOUT 600)
# Where the built module is; the test reads its installer from the source tree.
target_compile_definitions(integration_pgvector_test PRIVATE
  VECMIRROR_VECTOR_SHIM_MODULE="$<TARGET_FILE:vecmirror_vector_shim>")
add_dependencies(integration_pgvector_test vecmirror-server vecmirror_vector_shim)
