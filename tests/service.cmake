# gRPC service suites: the real server on 127.0.0.1:0, in-process, called over a real channel,
# with a Registry filled directly (no PostgreSQL).
vecmirror_test(service_search_test service_search_test.cc
  LIBS vecmirror_service vecmirror_index vecmirror_cli TIMEOUT 120)
vecmirror_test(service_admin_test service_admin_test.cc
  LIBS vecmirror_service vecmirror_index vecmirror_cli TIMEOUT 120)
vecmirror_test(service_cli_test service_cli_test.cc
  LIBS vecmirror_service vecmirror_index vecmirror_cli TIMEOUT 120)
