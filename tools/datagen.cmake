# The data generator: a library (used by the demo, tests and benchmarks) and its CLI.
add_library(vecmirror_datagen STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/datagen/generator.cc)
target_include_directories(vecmirror_datagen PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(vecmirror_datagen PUBLIC PkgConfig::PQ)

add_executable(vecmirror-datagen ${CMAKE_CURRENT_SOURCE_DIR}/datagen/main.cc)
target_link_libraries(vecmirror-datagen PRIVATE vecmirror_datagen CLI11::CLI11)
