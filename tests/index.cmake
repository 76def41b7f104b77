# The engine's suites (index/): kernels, policies, one index, the registry, concurrency.
# Exact ground truth comes from tests/support/brute_force.h (Eigen), never from FAISS.
vecmirror_test(index_kernels_test index_kernels_test.cc
  LIBS vecmirror_index TIMEOUT 60 LABELS index)
vecmirror_test(index_policy_test index_policy_test.cc
  LIBS vecmirror_index TIMEOUT 60 LABELS index)
vecmirror_test(index_entity_index_test index_entity_index_test.cc
  LIBS vecmirror_index Eigen3::Eigen TIMEOUT 120 LABELS index)
vecmirror_test(index_concurrency_test index_concurrency_test.cc
  LIBS vecmirror_index Eigen3::Eigen TIMEOUT 120 LABELS index)
vecmirror_test(index_registry_test index_registry_test.cc
  LIBS vecmirror_index Eigen3::Eigen TIMEOUT 120 LABELS index)
