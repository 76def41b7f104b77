// Config: everything vecmirror-server takes from its command line, its environment and its
// config file, parsed in one place.
//
// Every setting has a flag (--listen), an environment variable (VECMIRROR_LISTEN: the flag's
// name in capitals, dashes as underscores) and a config-file key (listen = "..."; underscores
// work too). The first of these that is set wins:
//
//   flag  >  environment  >  config file (--config FILE or VECMIRROR_CONFIG)  >  default
//
// The config file is TOML-like, or INI when its name ends in .ini: one `key = value` per line,
// "#" (or ";" in INI) comments, strings in double quotes, lists as ["a", "b"]; no [sections]. A
// key that names no setting is an error, so a typo can't be silently ignored.
//
// The database connection follows libpq's habits: --database-url, else VECMIRROR_DATABASE_URL,
// else DATABASE_URL, else the file's database-url, else libpq's PG* variables (an empty
// conninfo). Put the password in a PGPASSFILE or the environment rather than on a command
// line, where every user of the machine can read it; --print-config masks it wherever it is.
//
// Thread-safety: ParseConfig reads the process environment; call it from one thread at start.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/model_list.h"
#include "base/status.h"
#include "index/index_options.h"
#include "index/model_catalog.h"
#include "src/auth/server_security.h"
#include "src/grpc_server.h"
#include "src/metrics/service_metrics.h"
#include "src/replicator.h"
#include "src/search_service.h"
#include "src/snapshotter.h"

namespace vecmirror {

struct Config {
  ReplicatorOptions replicator;
  SnapshotOptions snapshots;  // durable snapshots and resume (off without --snapshot-dir)
  GrpcServerOptions server;
  SearchServiceOptions service;
  IndexOptions index;
  auth::SecurityOptions security;  // TLS, tokens, the listen policy
  std::vector<ModelDimension> models;  // known models and dimensions
  ModelLearning model_learning;        // models first seen in the data (off by default)
  metrics::MetricsOptions metrics;
  std::string log_level = "info";
  std::string log_format = "text";  // text or json (src/log_format.h)
};

// Where a setting's effective value came from, in order of precedence.
enum class ConfigSource { kFlag, kEnvironment, kFile, kDefault };

// One setting as --print-config shows it.
struct EffectiveSetting {
  std::string name;                 // "database-url", as the flag without its dashes
  std::vector<std::string> values;  // as given (a list has several); masked if secret
  bool is_list = false;
  ConfigSource source = ConfigSource::kDefault;
  std::string origin;  // "--listen", "VECMIRROR_LISTEN", the file's path; empty for a default
};

// Parses argv, the environment and the config file into *config. On --help, --version,
// --print-config or an error returns false with the text to print in *message and the exit
// code in *exit_code (0 for the first three, 2 for an error in a setting). `effective`, if
// given, receives every setting with its source.
bool ParseConfig(int argc, const char* const* argv, Config* config, std::string* message,
                 int* exit_code, std::vector<EffectiveSetting>* effective = nullptr);

// --print-config's text: every setting as `name = value  # source`, which reads back as a
// config file (secrets masked).
std::string EffectiveConfigText(const std::vector<EffectiveSetting>& settings);

// A PostgreSQL URI or key=value conninfo with its passwords replaced by "***": the password of
// the URI's user info and any password or sslpassword parameter.
std::string MaskConninfo(std::string_view conninfo);

}  // namespace vecmirror
