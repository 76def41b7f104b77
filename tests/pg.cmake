# The pure PostgreSQL decoders (src/pg/): column formats, binary COPY, pgoutput.
vecmirror_test(pg_wire_format_test pg_wire_format_test.cc LIBS vecmirror_pg)
vecmirror_test(pg_copy_binary_test pg_copy_binary_test.cc LIBS vecmirror_pg)
vecmirror_test(pg_pgoutput_test pg_pgoutput_test.cc LIBS vecmirror_pg)
vecmirror_test(pg_pgoutput_golden_test pg_pgoutput_golden_test.cc LIBS vecmirror_pg)

# The decoders read untrusted bytes: run the same suites once more with the decoders compiled
# under AddressSanitizer and UndefinedBehaviorSanitizer, so an over-read fails the build's tests.
set(VECMIRROR_PG_DECODER_SOURCES
  ${PROJECT_SOURCE_DIR}/src/pg/wire_format.cc
  ${PROJECT_SOURCE_DIR}/src/pg/copy_binary.cc
  ${PROJECT_SOURCE_DIR}/src/pg/pgoutput.cc
  ${PROJECT_SOURCE_DIR}/index/uuid.cc)
set(VECMIRROR_PG_SANITIZE -fsanitize=address,undefined -fno-sanitize-recover=all
  -fno-omit-frame-pointer)
vecmirror_test(pg_decoders_sanitized_test
  pg_wire_format_test.cc pg_copy_binary_test.cc pg_pgoutput_test.cc pg_pgoutput_golden_test.cc
  ${VECMIRROR_PG_DECODER_SOURCES})
target_compile_options(pg_decoders_sanitized_test PRIVATE ${VECMIRROR_PG_SANITIZE})
target_link_options(pg_decoders_sanitized_test PRIVATE ${VECMIRROR_PG_SANITIZE})

# libFuzzer target (clang only). The registered test is a short bounded run; for a real
# campaign run the binary by hand with a corpus directory.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_executable(pg_decoders_fuzz fuzz/pg_decoders_fuzz.cc ${VECMIRROR_PG_DECODER_SOURCES})
  target_include_directories(pg_decoders_fuzz PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(pg_decoders_fuzz PRIVATE -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=all)
  target_link_options(pg_decoders_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
  add_test(NAME pg_decoders_fuzz COMMAND pg_decoders_fuzz -runs=100000 -max_len=1024 -seed=1)
  set_tests_properties(pg_decoders_fuzz PROPERTIES TIMEOUT 300)
endif()
