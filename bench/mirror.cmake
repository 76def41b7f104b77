# vecmirror_freshness_bench: commit-to-visible freshness of the live mirror under steady write
# loads while searches run, and its apply rate next to the rate PostgreSQL produces changes,
# against a running throwaway cluster (the real vecmirror-server follows a scratch database).
# Run: scripts/pg-cluster.sh start DIR && vecmirror_freshness_bench --pgdir DIR
if(TARGET vecmirror_test_pg AND TARGET vecmirror_datagen)
  add_executable(vecmirror_freshness_bench ${CMAKE_CURRENT_LIST_DIR}/freshness_bench.cc)
  target_include_directories(vecmirror_freshness_bench PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(vecmirror_freshness_bench PRIVATE vecmirror_test_pg vecmirror_datagen
    vecmirror_proto CLI11::CLI11 PkgConfig::PQ gRPC::grpc++ Threads::Threads)
  add_dependencies(vecmirror_freshness_bench vecmirror-server)
endif()
