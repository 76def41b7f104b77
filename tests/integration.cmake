# End-to-end suites: the real vecmirror-server binary (started by tests/support/server_process.h)
# against the throwaway PostgreSQL of the pg_cluster fixture (tests/postgres.cmake).

# The searchable core: generated data, the server in flat, HNSW and IVF runs, every answer
# compared with the SQL ground truth (vm_search_similar_entities).
vecmirror_test(integration_search_test integration_search_test.cc
  LIBS vecmirror_proto vecmirror_datagen vecmirror_test_pg vecmirror_cli PkgConfig::PQ
  FIXTURES pg_cluster
  LABELS integration
  TIMEOUT 600)
add_dependencies(integration_search_test vecmirror-server)
