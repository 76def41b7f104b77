# The data generator (tools/datagen): vector shape and dataset plan, and loading into the
# throwaway PostgreSQL.
vecmirror_test(datagen_test datagen_test.cc
  LIBS vecmirror_datagen vecmirror_test_pg
  LABELS postgres
  FIXTURES pg_cluster
  TIMEOUT 300)
