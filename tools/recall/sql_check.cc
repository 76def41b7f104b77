#include "tools/recall/sql_check.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "src/pg/array_literal.h"

namespace vecmirror::recall {
namespace {

// DESIGN.md's query (sql/search_similar_entities.sql inlined). $1 tenant, $2 model, $3 query
// (real[]), $4 types (text[] or NULL), $5 an entity to leave out (or NULL), $6 limit.
constexpr char kContractSql[] = R"sql(
SELECT emb.entity_id::text, e.entity_type, scored.similarity
FROM embedding emb
JOIN entity e ON e.id = emb.entity_id
             AND e.valid_to IS NULL
             AND e.deleted_at IS NULL
CROSS JOIN LATERAL (
  SELECT sum(x::float8 * q::float8)
         / nullif(sqrt(sum(x::float8 * x::float8)) * sqrt(sum(q::float8 * q::float8)), 0)
         AS similarity
  FROM unnest(emb.vector::real[], $3::real[]) AS pairs(x, q)
) scored
WHERE emb.status = 'completed'
  AND e.tenant_id = $1::uuid
  AND emb.model = $2::text
  AND ($4::text[] IS NULL OR e.entity_type = ANY ($4::text[]))
  AND ($5::uuid IS NULL OR emb.entity_id <> $5::uuid)
  AND emb.vector IS NOT NULL
  AND cardinality(emb.vector::real[]) = cardinality($3::real[])
  AND scored.similarity IS NOT NULL
  AND scored.similarity NOT IN ('NaN', 'Infinity', '-Infinity')
ORDER BY scored.similarity DESC, emb.entity_id
LIMIT $6::int
)sql";

// The searchable row of one entity and model, as the contract defines it.
constexpr char kEntityVectorSql[] = R"sql(
SELECT emb.vector::real[]::text
FROM embedding emb
JOIN entity e ON e.id = emb.entity_id
             AND e.valid_to IS NULL
             AND e.deleted_at IS NULL
WHERE emb.status = 'completed'
  AND e.tenant_id = $1::uuid
  AND emb.model = $2::text
  AND emb.entity_id = $3::uuid
  AND emb.vector IS NOT NULL
LIMIT 1
)sql";

std::string Trimmed(std::string message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

std::string Similarity(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.7f", value);
  return text;
}

}  // namespace

std::string Divergence::ToString() const {
  std::string out = key.ToString() + " " + query + " [" + types + "] " + what;
  if (!entity_id.empty()) out += " " + entity_id;
  if (rank > 0) out += " at rank " + std::to_string(rank);
  out += ": service " + (service.empty() ? std::string("-") : service) + ", SQL " +
         (sql.empty() ? std::string("-") : sql);
  return out;
}

std::vector<Divergence> CompareAnswers(const std::vector<SourceHit>& service,
                                       const std::vector<SourceHit>& sql, size_t limit,
                                       const CompareTolerances& tolerances) {
  std::vector<Divergence> out;
  auto add = [&](std::string what, const Uuid* id, size_t rank, std::string s, std::string q) {
    Divergence d;
    d.what = std::move(what);
    if (id) d.entity_id = id->ToString();
    d.rank = rank;
    d.service = std::move(s);
    d.sql = std::move(q);
    out.push_back(std::move(d));
  };
  std::map<Uuid, size_t> sql_rank;
  for (size_t j = 0; j < sql.size(); ++j) sql_rank.emplace(sql[j].entity_id, j);
  std::set<Uuid> in_service;
  for (const SourceHit& hit : service) in_service.insert(hit.entity_id);

  // The row past the last rank may stand in for a row it ties with.
  const SourceHit* past_last = sql.size() > limit ? &sql[limit] : nullptr;
  auto ties_past_last = [&](const SourceHit& row) {
    return past_last && std::abs(row.similarity - past_last->similarity) <= tolerances.tie;
  };

  std::optional<size_t> previous_rank;  // SQL rank of the previous service hit found in SQL
  for (size_t i = 0; i < service.size(); ++i) {
    const SourceHit& hit = service[i];
    auto found = sql_rank.find(hit.entity_id);
    if (found == sql_rank.end() || (found->second >= limit && !ties_past_last(sql[limit - 1]))) {
      add("extra", &hit.entity_id, i + 1, hit.type + " " + Similarity(hit.similarity),
          found == sql_rank.end() ? "" : "rank " + std::to_string(found->second + 1));
      continue;
    }
    const SourceHit& row = sql[found->second];
    if (previous_rank && *previous_rank > found->second &&
        sql[*previous_rank].similarity - row.similarity < -tolerances.tie) {
      add("order", &hit.entity_id, i + 1, "after " + service[i - 1].entity_id.ToString(),
          "rank " + std::to_string(found->second + 1) + ", before it");
    }
    previous_rank = found->second;
    if (hit.type != row.type) add("type", &hit.entity_id, i + 1, hit.type, row.type);
    if (std::abs(hit.similarity - row.similarity) > tolerances.similarity) {
      add("similarity", &hit.entity_id, i + 1, Similarity(hit.similarity),
          Similarity(row.similarity));
    }
  }
  const size_t expected = std::min(limit, sql.size());
  for (size_t j = 0; j < expected; ++j) {
    const SourceHit& row = sql[j];
    if (in_service.count(row.entity_id)) continue;
    if (ties_past_last(row) && in_service.count(past_last->entity_id)) continue;
    add("missing", &row.entity_id, j + 1, "", row.type + " " + Similarity(row.similarity));
  }
  if (service.size() != expected) {
    add("count", nullptr, 0, std::to_string(service.size()) + " results",
        std::to_string(expected) + " rows");
  }
  return out;
}

Status SqlChecker::Connect(const std::string& dsn, std::unique_ptr<SqlChecker>* out) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    // libpq's message names host and port, never the password.
    const std::string message = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return Status::Unavailable("--verify-sql: cannot connect to PostgreSQL: " + message);
  }
  out->reset(new SqlChecker(conn));
  return Status::Ok();
}

SqlChecker::~SqlChecker() { PQfinish(conn_); }

std::string SqlChecker::Describe() const {
  const char* host = PQhost(conn_);
  return std::string(PQdb(conn_)) + " at " + (host ? host : "") + ":" + PQport(conn_);
}

Status SqlChecker::Search(const IndexKey& key, std::span<const float> vector,
                          const std::vector<std::string>& types,
                          const std::optional<Uuid>& exclude, size_t limit,
                          std::vector<SourceHit>* out) {
  return Run(key, pg::RealArrayLiteral(vector), types, exclude, limit, out);
}

Status SqlChecker::SearchLike(const IndexKey& key, const Uuid& entity,
                              const std::vector<std::string>& types, size_t limit,
                              std::vector<SourceHit>* out) {
  const std::string tenant = key.tenant_id.ToString(), id = entity.ToString();
  const char* params[] = {tenant.c_str(), key.model.c_str(), id.c_str()};
  PGresult* result = PQexecParams(conn_, kEntityVectorSql, 3, nullptr, params, nullptr, nullptr, 0);
  if (PQresultStatus(result) != PGRES_TUPLES_OK) {
    const std::string message = Trimmed(PQresultErrorMessage(result));
    PQclear(result);
    return Status::IOError("--verify-sql: reading the vector of " + id + ": " + message);
  }
  if (PQntuples(result) == 0) {
    PQclear(result);
    return Status::NotFound("PostgreSQL has no searchable " + key.model + " row for entity " + id);
  }
  const std::string vector = PQgetvalue(result, 0, 0);
  PQclear(result);
  return Run(key, vector, types, entity, limit, out);
}

Status SqlChecker::Run(const IndexKey& key, const std::string& vector_literal,
                       const std::vector<std::string>& types, const std::optional<Uuid>& exclude,
                       size_t limit, std::vector<SourceHit>* out) {
  const std::string tenant = key.tenant_id.ToString();
  const std::string types_literal = pg::TextArrayLiteral(types);
  const std::string exclude_text = exclude ? exclude->ToString() : "";
  const std::string limit_text = std::to_string(limit);
  const char* params[] = {tenant.c_str(),
                          key.model.c_str(),
                          vector_literal.c_str(),
                          types.empty() ? nullptr : types_literal.c_str(),
                          exclude ? exclude_text.c_str() : nullptr,
                          limit_text.c_str()};
  PGresult* result = PQexecParams(conn_, kContractSql, 6, nullptr, params, nullptr, nullptr, 0);
  if (PQresultStatus(result) != PGRES_TUPLES_OK) {
    const std::string message = Trimmed(PQresultErrorMessage(result));
    PQclear(result);
    return Status::IOError("--verify-sql: the contract's query failed: " + message);
  }
  out->clear();
  for (int row = 0; row < PQntuples(result); ++row) {
    const std::optional<Uuid> id = Uuid::Parse(PQgetvalue(result, row, 0));
    if (!id) continue;  // uuid::text is always canonical
    out->push_back({*id, PQgetvalue(result, row, 1), std::strtod(PQgetvalue(result, row, 2), nullptr)});
  }
  PQclear(result);
  return Status::Ok();
}

}  // namespace vecmirror::recall
