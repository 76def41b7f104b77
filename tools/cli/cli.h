// vecmirror-cli: a command-line client for a vecmirror server (search, indexes, status,
// rebuild, health). RunCli is the whole program behind main(), taking its streams as
// arguments so tests can run it in-process against a test server. --json prints each answer
// (and each error, on `err`) as one line of JSON instead of tables (cli_json.h).
//
// TLS: --tls-ca turns it on (and --tls-cert/--tls-key present a client certificate). The
// bearer token comes from --token-file or $VECMIRROR_TOKEN, never from a flag, so it does not
// show in the process list.
//
// Exit codes: 0 success; 1 the server answered with an error (its gRPC code name and message
// go to `err`) or health is not SERVING; 2 a local error (unreadable vector file, bad LSN);
// CLI11's own codes for command-line parse errors.
#pragma once

#include <ostream>

#include <grpcpp/grpcpp.h>

namespace vecmirror::cli {

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

// "INVALID_ARGUMENT", "NOT_FOUND", ... as the gRPC spec names the codes.
const char* StatusCodeName(grpc::StatusCode code);

}  // namespace vecmirror::cli
