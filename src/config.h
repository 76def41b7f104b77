// Config: everything vecmirror-server takes from its command line and environment, parsed in
// one place. Connection settings follow libpq's usual order: --database-url, else
// DATABASE_URL, else the PG* variables (an empty conninfo).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/model_list.h"
#include "base/status.h"
#include "index/entity_index.h"
#include "src/auth/server_security.h"
#include "src/grpc_server.h"
#include "src/replicator.h"
#include "src/search_service.h"

namespace vecmirror {

struct Config {
  ReplicatorOptions replicator;
  GrpcServerOptions server;
  SearchServiceOptions service;
  IndexOptions index;
  auth::SecurityOptions security;  // TLS, tokens, the listen policy
  std::vector<ModelDimension> models;  // known models and dimensions
  std::string log_level = "info";
};

// Parses argv. On --help or a bad flag returns false with the text to print in *message and
// the exit code in *exit_code.
bool ParseConfig(int argc, char** argv, Config* config, std::string* message, int* exit_code);

}  // namespace vecmirror
