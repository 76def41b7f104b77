# vecmirror_index_bench: EntityIndex vs raw FAISS per kind, latency and recall@10, and the sweeps
# behind IndexOptions' defaults (bench/RESULTS.md, "Index engine").
# Run: vecmirror_index_bench [--suite=issue,filters,ef,promotion] [--n=100000] [--dim=1536]
#        [--queries=200] [--benchmark_filter=...]
add_executable(vecmirror_index_bench ${CMAKE_CURRENT_LIST_DIR}/index_bench.cc)
target_include_directories(vecmirror_index_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(vecmirror_index_bench PRIVATE vecmirror_index benchmark::benchmark
  Eigen3::Eigen)
