#include "src/config.h"

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <sstream>

#include "index/model_catalog.h"

namespace vecmirror {
namespace {

Status ParseKind(const std::string& text, IndexKind* kind) {
  if (text == "flat") *kind = IndexKind::kFlat;
  else if (text == "hnsw") *kind = IndexKind::kHnsw;
  else if (text == "ivf") *kind = IndexKind::kIvf;
  else return Status::InvalidArgument("index kind \"" + text + "\"; expected flat, hnsw or ivf");
  return Status::Ok();
}

}  // namespace

bool ParseConfig(int argc, char** argv, Config* config, std::string* message, int* exit_code) {
  CLI::App app{"vecmirror-server: mirrors PostgreSQL embeddings into FAISS indexes and serves "
               "SearchSimilarEntities over gRPC"};
  std::string database_url;
  std::string models_text;
  std::string ann_kind = "hnsw";
  std::string forced_kind;
  auto& r = config->replicator;
  auto& idx = config->index;

  app.add_option("--database-url", database_url,
                 "PostgreSQL URI or key=value conninfo (default: $DATABASE_URL, else the PG* variables)");
  app.add_option("--listen", config->server.listen, "gRPC listen address (host:port)")->capture_default_str();
  app.add_option("--threads", config->server.threads, "gRPC threads (0 = 4 x cores, at least 16)")->capture_default_str();
  app.add_option("--max-message-bytes", config->server.max_message_bytes, "largest gRPC message")->capture_default_str();
  app.add_option("--max-limit", config->service.max_limit, "largest search limit a request may ask for")
      ->capture_default_str()->check(CLI::Range(1u, 1000u));
  app.add_option("--slot", r.slot_name, "replication slot name")->capture_default_str();
  app.add_option("--publication", r.publication, "publication name")->capture_default_str();
  app.add_option("--entity-table", r.entity_table.name, "entity table")->capture_default_str();
  app.add_option("--embedding-table", r.embedding_table.name, "embedding table")->capture_default_str();
  app.add_option("--schema", r.entity_table.schema, "schema of both tables")->capture_default_str();
  app.add_option("--models", models_text,
                 "known models as name:dim,... (added to the defaults: text-embedding-ada-002:1536, "
                 "text-embedding-3-small:1536, text-embedding-3-large:3072, all-MiniLM-L6-v2:384)");
  app.add_option("--ann-min-rows", idx.ann_min_rows, "live rows at which a flat index becomes ANN")->capture_default_str();
  app.add_option("--ann-kind", ann_kind, "ANN kind for large indexes: hnsw or ivf")->capture_default_str();
  app.add_option("--force-kind", forced_kind, "use this kind for every index: flat, hnsw or ivf");
  app.add_option("--hnsw-m", idx.hnsw_m, "HNSW links per node")->capture_default_str();
  app.add_option("--hnsw-ef-construction", idx.hnsw_ef_construction, "HNSW build effort")->capture_default_str();
  app.add_option("--hnsw-ef-search", idx.hnsw_ef_search, "HNSW default search effort")->capture_default_str();
  app.add_option("--ivf-nlist", idx.ivf_nlist, "IVF lists (0 = about 4 sqrt(rows))")->capture_default_str();
  app.add_option("--ivf-nprobe", idx.ivf_nprobe, "IVF lists probed (0 = automatic)")->capture_default_str();
  app.add_option("--exact-max-rows", idx.exact_max_allowed_rows,
                 "filtered searches with at most this many allowed rows scan exactly")->capture_default_str();
  app.add_option("--exact-max-share", idx.exact_max_allowed_share,
                 "...or at most this share of the index")->capture_default_str();
  app.add_option("--compact-dead-share", idx.compact_dead_share,
                 "rebuild an index when this share of its slots is dead")->capture_default_str();
  auto& sec = config->security;
  app.add_option("--tls-cert", sec.tls.cert_file, "PEM certificate chain to serve TLS with (default: plaintext)");
  app.add_option("--tls-key", sec.tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--tls-client-ca", sec.tls.client_ca_file,
                 "PEM CA bundle: clients must present a certificate it signed (mutual TLS)");
  app.add_option("--tokens-file", sec.tokens_file,
                 "bearer tokens with their roles and tenants, reloaded on SIGHUP (default: no authentication)");
  app.add_flag("--allow-insecure", sec.allow_insecure,
               "serve plaintext on an address beyond loopback (refused without it)");
  app.add_option("--log-level", config->log_level, "trace, debug, info, warn, error")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    *exit_code = app.exit(e, out, err);
    *message = out.str() + err.str();
    return false;
  }

  r.embedding_table.schema = r.entity_table.schema;
  // Only the flag's value shows in the process list; DATABASE_URL's does not.
  sec.database_password_in_argv = auth::ConninfoHasPassword(database_url);
  if (database_url.empty()) {
    if (const char* env = std::getenv("DATABASE_URL")) database_url = env;
  }
  r.conninfo = database_url;

  config->models = DefaultModels();
  Status s = ParseModelList(models_text, &config->models);
  if (s.ok()) s = ParseKind(ann_kind, &idx.ann_kind);
  if (s.ok() && !forced_kind.empty()) {
    IndexKind kind;
    s = ParseKind(forced_kind, &kind);
    idx.forced_kind = kind;
  }
  if (!s.ok()) {
    *message = s.message() + "\n";
    *exit_code = 2;
    return false;
  }
  return true;
}

}  // namespace vecmirror
