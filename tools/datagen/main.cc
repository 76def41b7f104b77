// vecmirror-datagen: loads synthetic tenants, entities and embeddings into a database that has
// sql/schema.sql, or writes one query vector to a file for vecmirror-cli.
//
//   vecmirror-datagen --database-url URL --tenants 3 --entities 1000 --seed 7 --truncate
//       --models all-MiniLM-L6-v2:384,text-embedding-3-small:1536
//   vecmirror-datagen --write-query q.txt --model text-embedding-3-small --seed 7
//
// Progress goes to stderr; the summary (counted in the database) to stdout.
#include <CLI/CLI.hpp>
#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "tools/datagen/loader.h"
#include "tools/datagen/vector_space.h"

namespace {

using vecmirror::BadRowReasonName;
using vecmirror::ModelDimension;
using vecmirror::ParseModelList;
using vecmirror::Status;
namespace datagen = vecmirror::datagen;

constexpr const char* kDefaultModels =
    "all-MiniLM-L6-v2:384,text-embedding-3-small:1536,text-embedding-3-large:3072";

int Fail(const Status& status) {
  std::cerr << "vecmirror-datagen: " << status.ToString() << "\n";
  return 1;
}

int WriteQuery(const std::string& path, const std::string& models_flag, const std::string& model,
               const datagen::DatasetSpec& spec, uint64_t query_index) {
  std::vector<ModelDimension> models;
  // The model may be one of --models or one with a default dimension.
  Status s = ParseModelList(models_flag + "," + model, &models);
  if (!s.ok()) return Fail(s);
  for (const ModelDimension& m : models) {
    if (m.name != model) continue;
    const datagen::ClusteredVectors space(m.dim, spec.clusters,
                                          datagen::ModelSpaceSeed(spec.seed, m.name), spec.shape);
    s = datagen::WriteVectorFile(path, space.Query(query_index));
    if (!s.ok()) return Fail(s);
    std::cerr << "wrote a " << m.dim << "-d query vector for " << m.name << " (seed " << spec.seed
              << ", query " << query_index << ") to " << path << "\n";
    return 0;
  }
  return Fail(Status::InvalidArgument("unknown model " + model));
}

void PrintSummary(const datagen::DatabaseSummary& summary, const datagen::LoadStats& stats) {
  std::cout << "rows per table:\n";
  for (const auto& [table, rows] : summary.rows_per_table) {
    std::printf("  %-10s %10llu\n", table.c_str(), static_cast<unsigned long long>(rows));
  }
  std::cout << "embedding rows per status:\n";
  for (const auto& [status, rows] : summary.embeddings_by_status) {
    std::printf("  %-10s %10llu\n", status.c_str(), static_cast<unsigned long long>(rows));
  }
  if (!stats.bad_rows.empty()) {
    std::cout << "bad rows loaded (completed, not searchable):\n";
    for (const auto& [kind, rows] : stats.bad_rows) {
      std::printf("  %-16s %6llu\n", BadRowReasonName(kind), static_cast<unsigned long long>(rows));
    }
  }
  std::cout << "searchable rows per tenant and model:\n";
  for (const auto& [key, rows] : summary.searchable) {
    std::printf("  %s  %-28s %8llu\n", key.first.c_str(), key.second.c_str(),
                static_cast<unsigned long long>(rows));
  }
}

int Load(const std::string& database_url, const datagen::DatasetSpec& spec, bool truncate) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(database_url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Fail(Status::Unavailable(std::string("cannot connect: ") + PQerrorMessage(conn.get())));
  }
  datagen::LoadOptions options;
  options.truncate = truncate;
  options.progress = [](const std::string& line) { std::cerr << "vecmirror-datagen: " << line << "\n"; };
  datagen::LoadStats stats;
  Status s = datagen::LoadDataset(conn.get(), spec, options, &stats);
  if (!s.ok()) return Fail(s);
  std::cerr << "vecmirror-datagen: committed; vector column is "
            << (stats.column == datagen::VectorColumn::kPgvector ? "vector" : "real[]") << "\n";

  datagen::DatabaseSummary summary;
  s = datagen::SummarizeDatabase(conn.get(), spec.models, &summary);
  if (!s.ok()) return Fail(s);
  PrintSummary(summary, stats);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Loads synthetic PromptCraft data (tenants, versioned entities, embeddings) into "
               "PostgreSQL, or writes a query vector for vecmirror-cli."};
  std::string database_url;
  std::string models_flag = kDefaultModels;
  datagen::DatasetSpec spec;
  bool truncate = false;
  bool id_per_version = false;
  std::string query_file, query_model;
  uint64_t query_index = 0;

  app.add_option("--database-url", database_url,
                 "libpq URL or conninfo; default $DATABASE_URL, else libpq's PG* variables");
  app.add_option("--tenants", spec.tenants, "number of tenants")->capture_default_str();
  app.add_option("--entities", spec.entities_per_tenant, "entities per tenant")->capture_default_str();
  app.add_option("--models", models_flag, "NAME:DIM,... (a known model may omit :DIM)")->capture_default_str();
  app.add_option("--seed", spec.seed, "seed of everything generated")->capture_default_str();
  app.add_option("--clusters", spec.clusters, "topical clusters per model")->capture_default_str();
  app.add_option("--bad-rows", spec.bad_share,
                 "share of completed rows with a NULL/NaN/Inf/zero/wrong-dimension vector")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--pending", spec.pending_share, "share of rows pending")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--failed", spec.failed_share, "share of rows failed")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--deleted", spec.deleted_share, "share of entities soft-deleted")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--versioned", spec.versioned_share, "share of entities with several versions")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_flag("--id-per-version", id_per_version,
               "give each version its own id, linked by previous_version_id");
  app.add_flag("--truncate", truncate, "empty tenant, entity and embedding first");
  app.add_option("--write-query", query_file, "write a query vector to this file and exit");
  app.add_option("--model", query_model, "the model of --write-query");
  app.add_option("--query-index", query_index, "which query vector of --write-query")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!query_file.empty()) {
    if (query_model.empty()) return Fail(Status::InvalidArgument("--write-query needs --model"));
    return WriteQuery(query_file, models_flag, query_model, spec, query_index);
  }
  spec.models.clear();
  Status s = ParseModelList(models_flag, &spec.models);
  if (!s.ok()) return Fail(s);
  if (spec.models.empty()) return Fail(Status::InvalidArgument("--models names no model"));
  spec.id_layout = id_per_version ? datagen::IdLayout::kIdPerVersion : datagen::IdLayout::kStableId;
  if (database_url.empty()) {
    if (const char* env = std::getenv("DATABASE_URL")) database_url = env;
  }
  return Load(database_url, spec, truncate);
}
