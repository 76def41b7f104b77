# The pure PostgreSQL decoders (src/pg/): column formats, binary COPY, pgoutput.
vecmirror_test(pg_wire_format_test pg_wire_format_test.cc LIBS vecmirror_pg)
vecmirror_test(pg_copy_binary_test pg_copy_binary_test.cc LIBS vecmirror_pg)
vecmirror_test(pg_pgoutput_test pg_pgoutput_test.cc LIBS vecmirror_pg)
