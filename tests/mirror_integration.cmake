# Live-mirror suites: the real vecmirror-server binary following a scratch database of the
# pg_cluster fixture through logical replication, compared with SQL by
# tests/support/mirror_check.h. Each test binary starts its own server(s) and slot.
set(_vecmirror_live_libs vecmirror_proto vecmirror_test_pg vecmirror_datagen PkgConfig::PQ Threads::Threads)

# One test per "what the mirror must remember" rule, over one server.
vecmirror_test(mirror_semantics_test mirror_semantics_test.cc
  LIBS ${_vecmirror_live_libs}
  FIXTURES pg_cluster
  LABELS integration
  TIMEOUT 900)
add_dependencies(mirror_semantics_test vecmirror-server)

# Randomized transactions (seed from VECMIRROR_TEST_SEED, else the time; printed), some
# committed while the initial load runs.
vecmirror_test(mirror_model_test mirror_model_test.cc
  LIBS ${_vecmirror_live_libs}
  FIXTURES pg_cluster
  LABELS integration
  TIMEOUT 900)
add_dependencies(mirror_model_test vecmirror-server)

# Terminated walsender, PostgreSQL stopped and started, the service killed. Stopping the
# cluster would break any test running beside it: RUN_SERIAL.
vecmirror_test(mirror_fault_test mirror_fault_test.cc
  LIBS ${_vecmirror_live_libs}
  FIXTURES pg_cluster
  LABELS integration
  TIMEOUT 900)
add_dependencies(mirror_fault_test vecmirror-server)
set_tests_properties(mirror_fault_test PROPERTIES RUN_SERIAL TRUE)

# Operator errors at start-up (no REPLICATION, a publication the role may not create).
vecmirror_test(server_startup_test server_startup_test.cc
  LIBS ${_vecmirror_live_libs}
  FIXTURES pg_cluster
  LABELS integration
  TIMEOUT 300)
add_dependencies(server_startup_test vecmirror-server)
