# vecmirror-cli: the command-line client. The library holds everything but main() so tests can
# run the client in-process against a test server.
add_library(vecmirror_cli STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/cli/cli.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/cli/cli_text.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/cli/health_check.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/cli/table.cc)
target_include_directories(vecmirror_cli PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(vecmirror_cli PUBLIC vecmirror_proto gRPC::grpc++ CLI11::CLI11)

add_executable(vecmirror-cli ${CMAKE_CURRENT_SOURCE_DIR}/cli/main.cc)
target_link_libraries(vecmirror-cli PRIVATE vecmirror_cli)
