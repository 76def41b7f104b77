# vecmirror_service_bench: search latency through the engine, the SearchService, and gRPC over
# loopback, on the same indexes in one run (the service's overhead).
# Run: vecmirror_service_bench [--n=20000] [--dim=1536] [--queries=256] [--benchmark_filter=...]
add_executable(vecmirror_service_bench ${CMAKE_CURRENT_LIST_DIR}/service_bench.cc)
target_include_directories(vecmirror_service_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(vecmirror_service_bench PRIVATE vecmirror_service vecmirror_index
  vecmirror_datagen benchmark::benchmark)

# vecmirror_load_bench: the real server's initial load rate vs a plain binary COPY of the same
# rows, against a running throwaway cluster.
# Run: scripts/pg-cluster.sh start DIR && vecmirror_load_bench --pgdir DIR [--rows 50000]
add_executable(vecmirror_load_bench ${CMAKE_CURRENT_LIST_DIR}/load_bench.cc)
target_include_directories(vecmirror_load_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(vecmirror_load_bench PRIVATE vecmirror_test_pg vecmirror_datagen
  vecmirror_proto CLI11::CLI11 PkgConfig::PQ gRPC::grpc++)
add_dependencies(vecmirror_load_bench vecmirror-server)
