#include "tools/datagen/loader.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <fstream>
#include <memory>

#include "src/pg/result.h"

namespace vecmirror::datagen {
namespace {

using pg::CheckResult;
using pg::Execute;
using pg::ExecuteCommand;
using pg::ExecuteQuery;
using pg::PgResult;
using pg::ResultError;
using pg::Row;

// COPY data is sent to the server in chunks of about this many bytes.
constexpr size_t kCopyChunkBytes = 1 << 20;

std::string Timestamp(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S+00", &tm);
  return buf;
}

std::string Capitalized(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

// One COPY ... FROM STDIN in text format, fed in chunks.
class CopyIn {
 public:
  explicit CopyIn(PGconn* conn) : conn_(conn) {}

  Status Begin(const std::string& sql) {
    sql_ = sql;
    const PgResult result = Execute(conn_, sql);
    return CheckResult(conn_, result.get(), sql, PGRES_COPY_IN);
  }

  std::string& buffer() { return buffer_; }

  Status MaybeFlush() { return buffer_.size() >= kCopyChunkBytes ? Flush() : Status::Ok(); }

  // Ends the COPY; its error, if any, is the statement's (a duplicate key shows here).
  Status End() {
    if (Status s = Flush(); !s.ok()) return s;
    if (PQputCopyEnd(conn_, nullptr) != 1) return ResultError(conn_, nullptr, sql_);
    Status status;
    while (const PgResult result = PgResult(PQgetResult(conn_))) {
      if (status.ok()) status = CheckResult(conn_, result.get(), sql_, PGRES_COMMAND_OK);
    }
    return status;
  }

 private:
  Status Flush() {
    if (buffer_.empty()) return Status::Ok();
    if (PQputCopyData(conn_, buffer_.data(), static_cast<int>(buffer_.size())) != 1) {
      return ResultError(conn_, nullptr, sql_);
    }
    buffer_.clear();
    return Status::Ok();
  }

  PGconn* conn_;
  std::string sql_;
  std::string buffer_;
};

void AppendField(std::string_view value, std::string* out) {
  out->append(value);
  out->push_back('\t');
}

void AppendNull(std::string* out) { out->append("\\N\t"); }

void EndRow(std::string* out) { out->back() = '\n'; }

Status CopyTenants(PGconn* conn, const DatasetPlan& plan) {
  CopyIn copy(conn);
  if (Status s = copy.Begin("COPY tenant (id, name, created_at) FROM STDIN"); !s.ok()) return s;
  for (size_t t = 0; t < plan.tenant_ids.size(); ++t) {
    std::string& out = copy.buffer();
    AppendField(plan.tenant_ids[t], &out);
    AppendField("Tenant " + std::to_string(t + 1), &out);
    AppendField(Timestamp(kEpoch - kDay), &out);
    EndRow(&out);
  }
  return copy.End();
}

Status CopyEntities(PGconn* conn, const DatasetPlan& plan) {
  CopyIn copy(conn);
  Status s = copy.Begin(
      "COPY entity (id, tenant_id, entity_type, name, content, version, previous_version_id, "
      "valid_from, valid_to, deleted_at) FROM STDIN");
  if (!s.ok()) return s;
  for (size_t i = 0; i < plan.entities.size(); ++i) {
    const PlannedEntity& entity = plan.entities[i];
    for (size_t v = 0; v < entity.versions.size(); ++v) {
      const PlannedVersion& version = entity.versions[v];
      const bool current = v + 1 == entity.versions.size();
      std::string& out = copy.buffer();
      AppendField(version.id, &out);
      AppendField(plan.tenant_ids[entity.tenant], &out);
      AppendField(entity.type, &out);
      AppendField(Capitalized(entity.type) + " " + std::to_string(i) + " v" + std::to_string(version.version), &out);
      AppendField("Synthetic " + entity.type + " " + std::to_string(i) + ", version " +
                      std::to_string(version.version) + ".",
                  &out);
      AppendField(std::to_string(version.version), &out);
      version.previous_version_id.empty() ? AppendNull(&out) : AppendField(version.previous_version_id, &out);
      AppendField(Timestamp(version.valid_from), &out);
      version.valid_to == 0 ? AppendNull(&out) : AppendField(Timestamp(version.valid_to), &out);
      current && entity.deleted_at != 0 ? AppendField(Timestamp(entity.deleted_at), &out) : AppendNull(&out);
      EndRow(&out);
      if (Status f = copy.MaybeFlush(); !f.ok()) return f;
    }
  }
  return copy.End();
}

Status CopyEmbeddings(PGconn* conn, const DatasetPlan& plan, VectorColumn column,
                      const LoadOptions& options, LoadStats* stats) {
  const DatasetSpec& spec = plan.spec;
  std::vector<std::unique_ptr<ClusteredVectors>> spaces;
  for (const ModelDimension& model : spec.models) {
    spaces.push_back(std::make_unique<ClusteredVectors>(
        model.dim, spec.clusters, ModelSpaceSeed(spec.seed, model.name), spec.shape));
  }
  CopyIn copy(conn);
  Status s = copy.Begin(
      "COPY embedding (entity_id, model, vector, status, error, created_at, updated_at) FROM STDIN");
  if (!s.ok()) return s;

  size_t group_start = 0;
  for (size_t r = 0; r < plan.embeddings.size(); ++r) {
    const PlannedEmbedding& row = plan.embeddings[r];
    const PlannedEntity& entity = plan.entities[row.entity];
    const ModelDimension& model = spec.models[row.model];
    const PlannedVersion& version = entity.versions[row.version];
    std::string& out = copy.buffer();
    AppendField(version.id, &out);
    AppendField(model.name, &out);
    const std::vector<float> v = PlannedVector(plan, *spaces[row.model], row);
    if (v.empty()) {
      AppendNull(&out);
    } else {
      AppendVectorText(v.data(), v.size(), column, &out);
      out.push_back('\t');
    }
    AppendField(row.status, &out);
    row.status == "failed" ? AppendField("model endpoint returned HTTP 500 (synthetic)", &out) : AppendNull(&out);
    AppendField(Timestamp(version.valid_from + 60), &out);
    AppendField(Timestamp(version.valid_from + (row.status == "pending" ? 60 : 120)), &out);
    EndRow(&out);
    if (Status f = copy.MaybeFlush(); !f.ok()) return f;

    ++stats->embedding_rows;
    ++stats->embeddings_by_status[row.status];
    if (row.bad) ++stats->bad_rows[*row.bad];
    if (row.searchable) ++stats->searchable[{plan.tenant_ids[entity.tenant], model.name}];

    const bool group_ends = r + 1 == plan.embeddings.size() ||
                            plan.embeddings[r + 1].model != row.model ||
                            plan.entities[plan.embeddings[r + 1].entity].tenant != entity.tenant;
    if (group_ends && options.progress) {
      options.progress("embeddings: tenant " + std::to_string(entity.tenant + 1) + "/" +
                       std::to_string(plan.tenant_ids.size()) + ", " + model.name + " (" +
                       std::to_string(model.dim) + "-d): " + std::to_string(r + 1 - group_start) +
                       " rows");
    }
    if (group_ends) group_start = r + 1;
  }
  return copy.End();
}

Status LoadInTransaction(PGconn* conn, const DatasetSpec& spec, const LoadOptions& options,
                         LoadStats* stats) {
  if (options.truncate) {
    if (Status s = ExecuteCommand(conn, "TRUNCATE embedding, entity, tenant RESTART IDENTITY"); !s.ok()) return s;
    if (options.progress) options.progress("emptied tenant, entity and embedding");
  }
  const DatasetPlan plan = PlanDataset(spec, stats->column == VectorColumn::kFloat4Array);
  if (Status s = CopyTenants(conn, plan); !s.ok()) return s;
  stats->tenants = plan.tenant_ids.size();
  if (options.progress) options.progress("tenants: " + std::to_string(stats->tenants) + " rows");

  if (Status s = CopyEntities(conn, plan); !s.ok()) return s;
  for (const PlannedEntity& entity : plan.entities) stats->entity_rows += entity.versions.size();
  if (options.progress) options.progress("entities: " + std::to_string(stats->entity_rows) + " rows");

  return CopyEmbeddings(conn, plan, stats->column, options, stats);
}

}  // namespace

Status DetectVectorColumn(PGconn* conn, VectorColumn* out) {
  std::vector<Row> rows;
  Status s = ExecuteQuery(conn,
                          "SELECT t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                          "WHERE a.attrelid = to_regclass('embedding') AND a.attname = 'vector' "
                          "AND NOT a.attisdropped",
                          &rows);
  if (!s.ok()) return s;
  if (rows.size() != 1) {
    return Status::FailedPrecondition("no column embedding.vector; load sql/schema.sql first");
  }
  const std::string type = rows[0][0].value_or("");
  if (type == "vector") {
    *out = VectorColumn::kPgvector;
  } else if (type == "_float4") {
    *out = VectorColumn::kFloat4Array;
  } else {
    return Status::InvalidArgument("embedding.vector has type " + type + "; expected vector or real[]");
  }
  return Status::Ok();
}

void AppendVectorText(const float* v, size_t n, VectorColumn column, std::string* out) {
  out->push_back(column == VectorColumn::kPgvector ? '[' : '{');
  char buf[32];
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out->push_back(',');
    if (std::isnan(v[i])) {
      out->append("NaN");
    } else if (std::isinf(v[i])) {
      out->append(v[i] > 0 ? "Infinity" : "-Infinity");
    } else {
      const auto result = std::to_chars(buf, buf + sizeof buf, v[i]);
      out->append(buf, result.ptr);
    }
  }
  out->push_back(column == VectorColumn::kPgvector ? ']' : '}');
}

Status LoadDataset(PGconn* conn, const DatasetSpec& spec, const LoadOptions& options,
                   LoadStats* stats) {
  *stats = LoadStats();
  for (const ModelDimension& model : spec.models) {
    if (model.dim == 0) return Status::InvalidArgument("model " + model.name + " has dimension 0");
  }
  if (Status s = DetectVectorColumn(conn, &stats->column); !s.ok()) return s;
  if (Status s = ExecuteCommand(conn, "BEGIN"); !s.ok()) return s;
  Status status = LoadInTransaction(conn, spec, options, stats);
  if (status.ok()) status = ExecuteCommand(conn, "COMMIT");
  if (!status.ok()) {
    ExecuteCommand(conn, "ROLLBACK");
    return status;
  }
  return Status::Ok();
}

Status SummarizeDatabase(PGconn* conn, const std::vector<ModelDimension>& models, DatabaseSummary* out) {
  *out = DatabaseSummary();
  std::vector<Row> rows;
  Status s = ExecuteQuery(conn,
                          "SELECT 'tenant', count(*) FROM tenant UNION ALL "
                          "SELECT 'entity', count(*) FROM entity UNION ALL "
                          "SELECT 'embedding', count(*) FROM embedding",
                          &rows);
  if (!s.ok()) return s;
  for (const Row& row : rows) out->rows_per_table[*row[0]] = std::stoull(*row[1]);
  s = ExecuteQuery(conn, "SELECT status, count(*) FROM embedding GROUP BY status ORDER BY status", &rows);
  if (!s.ok()) return s;
  for (const Row& row : rows) out->embeddings_by_status[row[0].value_or("")] = std::stoull(*row[1]);
  if (models.empty()) return Status::Ok();

  std::string values;
  for (const ModelDimension& model : models) {
    char* literal = PQescapeLiteral(conn, model.name.data(), model.name.size());
    if (!literal) return ResultError(conn, nullptr, "PQescapeLiteral of model " + model.name);
    values += (values.empty() ? "(" : ", (") + std::string(literal) + ", " + std::to_string(model.dim) + ")";
    PQfreemem(literal);
  }
  s = ExecuteQuery(conn,
                   "WITH models (model, dim) AS (VALUES " + values + ") "
                   "SELECT e.tenant_id::text, emb.model, count(*) "
                   "FROM embedding emb "
                   "JOIN entity e ON e.id = emb.entity_id AND e.valid_to IS NULL AND e.deleted_at IS NULL "
                   "JOIN models m ON m.model = emb.model "
                   "CROSS JOIN LATERAL (SELECT emb.vector::real[] AS v) c "
                   "WHERE emb.status = 'completed' AND c.v IS NOT NULL AND cardinality(c.v) = m.dim "
                   "  AND (SELECT bool_and(x NOT IN ('NaN', 'Infinity', '-Infinity')) AND bool_or(x <> 0) "
                   "       FROM unnest(c.v) AS x) "
                   "GROUP BY 1, 2 ORDER BY 1, 2",
                   &rows);
  if (!s.ok()) return s;
  for (const Row& row : rows) out->searchable[{*row[0], *row[1]}] = std::stoull(*row[2]);
  return Status::Ok();
}

Status WriteVectorFile(const std::string& path, const std::vector<float>& v) {
  std::ofstream file(path, std::ios::trunc);
  if (!file) return Status::IOError("cannot open " + path + " for writing");
  char buf[32];
  for (float x : v) {
    const auto result = std::to_chars(buf, buf + sizeof buf, x);
    file.write(buf, result.ptr - buf);
    file.put('\n');
  }
  file.close();
  if (!file) return Status::IOError("writing " + path + " failed");
  return Status::Ok();
}

}  // namespace vecmirror::datagen
