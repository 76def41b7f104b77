# The mirror: row decoding, state -> index writes, libpq replication and the initial load.
add_library(vecmirror_mirror STATIC
  rows.cc
  mirror.cc
  replicator.cc
  pg/connection.cc
  pg/catalog.cc
  pg/replication_stream.cc)
target_include_directories(vecmirror_mirror PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(vecmirror_mirror PUBLIC vecmirror_pg vecmirror_index PkgConfig::PQXX
  PkgConfig::PQ spdlog::spdlog)

add_executable(vecmirror-server main.cc config.cc)
target_link_libraries(vecmirror-server PRIVATE vecmirror_mirror vecmirror_service CLI11::CLI11)
