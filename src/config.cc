#include "src/config.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>

#include "index/model_catalog.h"
#include "src/metrics/build_info.h"

namespace vecmirror {
namespace {

// Options that are actions or pointers to other settings, not settings themselves.
const std::set<std::string> kNotSettings = {"help", "config", "print-config", "version"};

// "STORAGE" for every model, or a list of items, "STORAGE" (the default) and
// "MODEL=STORAGE" (that model's), separated by commas: "fp32,text-embedding-3-large=fp16".
Status ParseStorageList(const std::string& text, const std::vector<ModelDimension>& models,
                        bool learning, IndexOptions* options) {
  options->storage_by_model.clear();
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      if (Status s = ParseVectorStorage(item, &options->storage); !s.ok()) return s;
      continue;
    }
    const std::string model = item.substr(0, eq);
    const bool known = std::any_of(models.begin(), models.end(),
                                   [&](const ModelDimension& m) { return m.name == model; });
    if (model.empty() || (!known && !learning)) {
      return Status::InvalidArgument("--vector-storage item \"" + item +
                                     "\" names no model of --models");
    }
    VectorStorage storage;
    if (Status s = ParseVectorStorage(item.substr(eq + 1), &storage); !s.ok()) return s;
    options->storage_by_model[model] = storage;
  }
  return Status::Ok();
}

// "stored" (build on the rows as they are stored) or a storage to build the graph on.
Status ParseBuildStorage(const std::string& text, std::optional<VectorStorage>* build_storage) {
  if (text == "stored") {
    build_storage->reset();
    return Status::Ok();
  }
  VectorStorage storage;
  if (Status s = ParseVectorStorage(text, &storage); !s.ok()) {
    return Status::InvalidArgument("--hnsw-build-storage \"" + text + "\"; expected stored, fp32, fp16 or sq8");
  }
  *build_storage = storage;
  return Status::Ok();
}

std::string SettingName(const CLI::Option& option) {
  return option.get_lnames().empty() ? std::string() : option.get_lnames().front();
}

bool IsSetting(const CLI::Option& option) {
  const std::string name = SettingName(option);
  return !name.empty() && kNotSettings.count(name) == 0;
}

// VECMIRROR_ and the name in capitals with underscores: max-limit -> VECMIRROR_MAX_LIMIT.
std::string EnvironmentName(const std::string& name) {
  std::string out = "VECMIRROR_";
  for (char c : name) {
    out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

// The long names given on the command line (--name or --name=value), up to a bare "--".
std::set<std::string> NamesOnCommandLine(int argc, const char* const* argv) {
  std::set<std::string> names;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() > 2 && arg.substr(0, 2) == "--") {
      names.insert(std::string(arg.substr(2, arg.find('=') - 2)));
    }
  }
  return names;
}

bool IsSecret(const std::string& name) {
  const bool file = name.size() > 5 && name.compare(name.size() - 5, 5, "-file") == 0;
  return name == "database-url" || (!file && (name.find("password") != std::string::npos ||
                                              name.find("secret") != std::string::npos ||
                                              name.find("token") != std::string::npos));
}

std::string MaskValue(const std::string& name, const std::string& value) {
  if (!IsSecret(name) || value.empty()) return value;
  return name == "database-url" ? MaskConninfo(value) : "***";
}

// Applies the settings of the config file at `path` that neither a flag nor the environment
// has set. `from_file` receives the names it set.
Status ApplyConfigFile(CLI::App& app, const std::string& path, std::set<std::string>* from_file) {
  const bool ini = path.size() > 4 && path.compare(path.size() - 4, 4, ".ini") == 0;
  std::unique_ptr<CLI::Config> format;
  if (ini) format = std::make_unique<CLI::ConfigINI>();
  else format = std::make_unique<CLI::ConfigTOML>();
  std::vector<CLI::ConfigItem> items;
  try {
    items = format->from_file(path);
  } catch (const CLI::Error& e) {
    return Status::InvalidArgument("config file " + path + ": " + e.what());
  }
  std::set<std::string> seen;
  for (const CLI::ConfigItem& item : items) {
    if (!item.parents.empty() || item.name == "++" || item.name == "--") {
      return Status::InvalidArgument("config file " + path + ": \"" + item.fullname() +
                                     "\": settings go at the top level, without [sections]");
    }
    std::string name = item.name;
    std::replace(name.begin(), name.end(), '_', '-');
    CLI::Option* option = app.get_option_no_throw("--" + name);
    if (option == nullptr || !IsSetting(*option)) {
      return Status::InvalidArgument("config file " + path + ": unknown setting \"" + item.name +
                                     "\" (vecmirror-server --help lists them)");
    }
    if (!seen.insert(name).second) {
      return Status::InvalidArgument("config file " + path + ": \"" + item.name +
                                     "\" is set twice");
    }
    if (option->count() > 0) continue;  // a flag or the environment wins
    const bool empty = item.inputs.empty() || (item.inputs.size() == 1 && item.inputs[0].empty());
    if (empty && option->get_items_expected_max() > 1) {  // `models = []`: the default list
      from_file->insert(name);
      continue;
    }
    try {
      option->add_result(item.inputs);
      option->run_callback();
    } catch (const CLI::Error& e) {
      return Status::InvalidArgument("config file " + path + ": " + item.name + ": " + e.what() +
                                     " (quote a value that holds spaces or commas)");
    }
    from_file->insert(name);
  }
  return Status::Ok();
}

std::string Quoted(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// A value as the config file would hold it: numbers and booleans bare, the rest quoted.
std::string FileValue(const std::string& value) {
  static const std::regex number("-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?");
  if (value == "true" || value == "false" || std::regex_match(value, number)) return value;
  return Quoted(value);
}

}  // namespace

std::string MaskConninfo(std::string_view conninfo) {
  std::string text(conninfo);
  static const std::regex uri_password("^([a-zA-Z][a-zA-Z0-9+.-]*://[^:@/?#]*):[^@/?#]*@");
  text = std::regex_replace(text, uri_password, "$1:***@", std::regex_constants::format_first_only);
  // URI query parameters: ?password=...&sslpassword=...
  static const std::regex uri_param("([?&](ssl)?password=)[^&#]*");
  text = std::regex_replace(text, uri_param, "$1***");
  // key=value conninfo: password = 'quoted \' value' or password=bare
  static const std::regex keyword_param(
      "((^|\\s)(ssl)?password\\s*=\\s*)('([^'\\\\]|\\\\.)*'|[^\\s']\\S*)");
  return std::regex_replace(text, keyword_param, "$1***");
}

bool ParseConfig(int argc, const char* const* argv, Config* config, std::string* message,
                 int* exit_code, std::vector<EffectiveSetting>* effective) {
  CLI::App app{"vecmirror-server: mirrors PostgreSQL embeddings into FAISS indexes and serves "
               "SearchSimilarEntities over gRPC.\n\nEvery setting can also come from the "
               "environment (VECMIRROR_<NAME>) or a config file (--config); a flag wins over "
               "the environment, which wins over the file."};
  app.option_defaults()->always_capture_default();
  std::string database_url;
  std::vector<std::string> models;
  std::string ann_kind = "hnsw";
  std::string vector_storage = "fp32";
  std::string forced_kind;
  std::string config_path;
  bool print_config = false;
  auto& r = config->replicator;
  auto& idx = config->index;
  // Graphs are built on SQ8 codes unless told otherwise: at 100k x 1536 in 0.5x the wall time of
  // fp32 rows, with the same recall (bench/RESULTS.md, "Building the graph on SQ8 codes").
  std::string build_storage = "sq8";

  app.set_version_flag("--version", metrics::BuildInfoText(metrics::CurrentBuildInfo()),
                       "Print the version, git commit, FAISS version and kernel, and exit");
  app.add_option("--config", config_path,
                 "Config file of settings (key = value lines; .ini for INI syntax)")
      ->envname("VECMIRROR_CONFIG")
      ->check(CLI::ExistingFile);
  app.add_flag("--print-config", print_config,
               "Print every setting's value and where it came from, and exit");

  app.add_option("--database-url", database_url,
                 "PostgreSQL URI or key=value conninfo (default: $DATABASE_URL, else the PG* "
                 "variables); keep the password in a PGPASSFILE, not here");
  app.add_option("--listen", config->server.listen, "gRPC listen address (host:port)");
  auto& svc = config->service;
  app.add_option("--search-threads,--threads", svc.search_threads,
                 "threads that run searches (0 = one per core)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--searches-in-handler", svc.searches_in_handler,
                 "searches that may run in the gRPC thread that received them when a search "
                 "thread's slot is free (-1 = up to --search-threads, 0 = all queued)")
      ->check(CLI::Range(-1, 1 << 16));
  app.add_option("--max-queued-searches", svc.max_queued_searches,
                 "searches that may wait for a search thread; past it RESOURCE_EXHAUSTED")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-waiting-searches", svc.max_waiting_searches,
                 "searches that may wait for their min_lsn (no thread held); past it "
                 "RESOURCE_EXHAUSTED")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-inflight-request-bytes", svc.max_inflight_request_bytes,
                 "request bytes held by calls admitted and not yet answered; past it "
                 "RESOURCE_EXHAUSTED")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-batch-results", svc.max_batch_results,
                 "result rows one batch may ask for in all (sum of limits); past it "
                 "INVALID_ARGUMENT")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-message-bytes", config->server.max_message_bytes,
                 "largest gRPC request or response")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-limit", config->service.max_limit,
                 "largest search limit a request may ask for")
      ->check(CLI::Range(1u, 1000u));
  app.add_option("--slot", r.slot_name, "replication slot name");
  app.add_option("--publication", r.publication, "publication name");
  app.add_option("--entity-table", r.entity_table.name, "entity table");
  app.add_option("--embedding-table", r.embedding_table.name, "embedding table");
  app.add_option("--schema", r.entity_table.schema, "schema of both tables");
  auto& snap = config->snapshots;
  int64_t snapshot_interval_seconds = snap.interval.count();
  app.add_option("--snapshot-dir", snap.directory,
                 "directory of durable snapshots: a restart resumes from the newest one instead "
                 "of reloading the tables (default: none, every start reloads)");
  app.add_option("--snapshot-interval-seconds", snapshot_interval_seconds,
                 "take a snapshot this long after the last one, if anything changed")
      ->check(CLI::PositiveNumber);
  app.add_option("--snapshot-every-changes", snap.every_changes,
                 "...or after this many applied row changes (0 = only on the interval)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--snapshot-keep", snap.keep, "complete snapshots kept")
      ->check(CLI::Range(size_t{1}, size_t{100}));
  app.add_option("--max-retained-wal-bytes", r.max_retained_wal_bytes,
                 "warn when the slot holds back more WAL than this")
      ->check(CLI::PositiveNumber);
  app.add_option("--models", models,
                 "known models as name:dim,... (added to the defaults: "
                 "text-embedding-ada-002:1536, text-embedding-3-small:1536, "
                 "text-embedding-3-large:3072, all-MiniLM-L6-v2:384)")
      ->delimiter(',');
  app.add_flag("--learn-models", config->model_learning.enabled,
               "index rows of models that are not configured, at the dimension of their first "
               "row, if it is one of --learn-model-dims (default: off: such rows are counted as "
               "unknown_model and not indexed)")
      ->default_str("false");
  app.add_option("--learn-model-dims", config->model_learning.allowed_dims,
                 "dimensions a learned model may have")
      ->delimiter(',')
      ->default_str("384,1536,3072");
  app.add_option("--max-learned-models", config->model_learning.max_models,
                 "most models --learn-models learns; rows of further ones count as unknown_model");
  app.add_option("--ann-min-rows", idx.ann_min_rows, "live rows at which a flat index becomes ANN");
  app.add_option("--ann-kind", ann_kind, "ANN kind for large indexes: hnsw or ivf");
  app.add_option("--force-kind", forced_kind, "use this kind for every index: flat, hnsw or ivf");
  app.add_option("--hnsw-m", idx.hnsw_m, "HNSW links per node");
  app.add_option("--hnsw-ef-construction", idx.hnsw_ef_construction, "HNSW build effort");
  app.add_option("--hnsw-ef-search", idx.hnsw_ef_search, "HNSW default search effort");
  app.add_option("--vector-storage", vector_storage,
                 "how HNSW indexes store sealed rows: fp32, fp16 (half the memory; vectors "
                 "read back are fp16-rounded) or sq8 (a quarter; 8-bit codes in per-dimension "
                 "ranges, vectors read back are the decoded codes); per model: "
                 "fp32,MODEL=sq8,...")
      ->default_str("fp32");
  app.add_option("--hnsw-build-storage", build_storage,
                 "rows the HNSW graph is built on: sq8 (8-bit codes: 0.5x the build time of "
                 "fp32 rows), fp16 (0.68x) or stored (as --vector-storage keeps them)")
      ->default_str(build_storage);
  app.add_option("--ivf-nlist", idx.ivf_nlist, "IVF lists (0 = about 4 sqrt(rows))");
  app.add_option("--ivf-nprobe", idx.ivf_nprobe, "IVF lists probed (0 = automatic)");
  app.add_option("--exact-max-rows", idx.exact_max_allowed_rows,
                 "filtered searches with at most this many allowed rows scan exactly");
  app.add_option("--exact-max-share", idx.exact_max_allowed_share,
                 "...or at most this share of the index");
  app.add_option("--compact-dead-share", idx.compact_dead_share,
                 "rebuild an index when this share of its slots is dead");
  auto& sec = config->security;
  app.add_option("--tls-cert", sec.tls.cert_file,
                 "PEM certificate chain to serve TLS with (default: plaintext)");
  app.add_option("--tls-key", sec.tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--tls-client-ca", sec.tls.client_ca_file,
                 "PEM CA bundle: clients must present a certificate it signed (mutual TLS)");
  app.add_option("--tokens-file", sec.tokens_file,
                 "bearer tokens with their roles and tenants, reloaded on SIGHUP (default: no "
                 "authentication)");
  app.add_flag("--allow-insecure", sec.allow_insecure,
               "serve plaintext on an address beyond loopback (refused without it)")
      ->default_str("false");
  app.add_option("--metrics-listen", config->metrics.listen,
                 "host:port of the Prometheus /metrics endpoint (default: none, off)");
  app.add_option("--metrics-per-index", config->metrics.per_index,
                 "export per-index series (labels tenant, model, dimension); false keeps the "
                 "sums by kind")
      ->default_str(config->metrics.per_index ? "true" : "false");
  app.add_option("--log-level", config->log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--log-format", config->log_format,
                 "text, or json: one JSON object per line (time, level, message, fields)")
      ->check(CLI::IsMember({"text", "json"}));

  for (CLI::Option* option : app.get_options()) {
    if (IsSetting(*option)) option->envname(EnvironmentName(SettingName(*option)));
  }

  const std::set<std::string> on_command_line = NamesOnCommandLine(argc, argv);
  std::map<std::string, std::string> origins;  // setting -> where it came from, when not a flag
  Status s;
  try {
    app.parse(argc, argv);  // flags, then VECMIRROR_* for what no flag set
    CLI::Option* url = app.get_option("--database-url");
    const char* libpq_style = std::getenv("DATABASE_URL");
    if (url->count() == 0 && libpq_style != nullptr && *libpq_style != '\0') {
      url->add_result(std::string(libpq_style));
      url->run_callback();
      origins["database-url"] = "DATABASE_URL";
    }
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    *exit_code = app.exit(e, out, err);
    *message = out.str() + err.str();
    return false;
  }
  std::set<std::string> from_file;
  if (!config_path.empty()) s = ApplyConfigFile(app, config_path, &from_file);

  if (s.ok()) {
    r.embedding_table.schema = r.entity_table.schema;
    snap.interval = std::chrono::seconds(snapshot_interval_seconds);
    // Only the flag's value shows in the process list; the environment's and a file's do not.
    sec.database_password_in_argv =
        on_command_line.count("database-url") > 0 && auth::ConninfoHasPassword(database_url);
    svc.max_response_bytes = static_cast<size_t>(config->server.max_message_bytes);
    r.conninfo = database_url;
    std::string models_text;
    for (const std::string& m : models) models_text += (models_text.empty() ? "" : ",") + m;
    config->models = DefaultModels();
    s = ParseModelList(models_text, &config->models);
  }
  if (s.ok()) s = ParseIndexKind(ann_kind, &idx.ann_kind);
  if (s.ok()) {
    s = ParseStorageList(vector_storage, config->models, config->model_learning.enabled, &idx);
  }
  if (s.ok()) s = ParseBuildStorage(build_storage, &idx.hnsw_build_storage);
  if (s.ok() && !forced_kind.empty()) {
    IndexKind kind;
    s = ParseIndexKind(forced_kind, &kind);
    if (s.ok()) idx.forced_kind = kind;
  }
  if (!s.ok()) {
    *message = s.message() + "\n";
    *exit_code = 2;
    return false;
  }

  std::vector<EffectiveSetting> settings;
  for (const CLI::Option* option : app.get_options()) {
    if (!IsSetting(*option)) continue;
    EffectiveSetting setting;
    setting.name = SettingName(*option);
    setting.is_list = option->get_items_expected_max() > 1;
    if (on_command_line.count(setting.name)) {
      setting.source = ConfigSource::kFlag;
      setting.origin = "--" + setting.name;
    } else if (auto it = origins.find(setting.name); it != origins.end()) {
      setting.source = ConfigSource::kEnvironment;
      setting.origin = it->second;
    } else if (from_file.count(setting.name)) {
      setting.source = ConfigSource::kFile;
      setting.origin = config_path;
    } else if (option->count() > 0) {
      setting.source = ConfigSource::kEnvironment;
      setting.origin = option->get_envname();
    }
    if (setting.source == ConfigSource::kDefault) {
      const std::string text = option->get_default_str();
      if (!setting.is_list) {
        setting.values = {text};
      } else if (!text.empty() && text != "[]") {
        // A list's default is written "a,b,c", as its flag takes it.
        std::stringstream items(text);
        for (std::string item; std::getline(items, item, ',');) setting.values.push_back(item);
      }
    } else {
      setting.values = option->results();
    }
    for (std::string& v : setting.values) v = MaskValue(setting.name, v);
    settings.push_back(std::move(setting));
  }
  if (print_config) {
    *message = EffectiveConfigText(settings);
    *exit_code = 0;
    return false;
  }
  if (effective) *effective = std::move(settings);
  return true;
}

std::string EffectiveConfigText(const std::vector<EffectiveSetting>& settings) {
  std::vector<std::pair<std::string, std::string>> lines;  // assignment, comment
  size_t width = 0;
  for (const EffectiveSetting& s : settings) {
    std::string value;
    if (s.is_list) {
      value = "[";
      for (size_t i = 0; i < s.values.size(); ++i) value += (i ? ", " : "") + Quoted(s.values[i]);
      value += "]";
    } else {
      value = FileValue(s.values.empty() ? std::string() : s.values.front());
    }
    std::string comment;
    switch (s.source) {
      case ConfigSource::kFlag: comment = "flag " + s.origin; break;
      case ConfigSource::kEnvironment: comment = "environment " + s.origin; break;
      case ConfigSource::kFile: comment = "file " + s.origin; break;
      case ConfigSource::kDefault: comment = "default"; break;
    }
    lines.emplace_back(s.name + " = " + value, comment);
    width = std::max(width, lines.back().first.size());
  }
  std::string out =
      "# vecmirror-server settings in effect (flag > environment > config file > default)\n";
  for (const auto& [assignment, comment] : lines) {
    out += assignment + std::string(width - assignment.size() + 2, ' ') + "# " + comment + "\n";
  }
  return out;
}

}  // namespace vecmirror
