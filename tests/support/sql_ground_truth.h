// SqlGroundTruth: the answer PostgreSQL itself gives to a search, from the SQL function
// vm_search_similar_entities (sql/search_similar_entities.sql, DESIGN.md "The contract"), for
// integration tests to compare the service against. Nothing here uses FAISS or the engine: the
// similarities are computed by PostgreSQL in double precision.
//
//   std::unique_ptr<SqlGroundTruth> truth;
//   ASSERT_TRUE(SqlGroundTruth::Connect(db->conninfo(), &truth).ok());
//   std::vector<SqlHit> hits;
//   ASSERT_TRUE(truth->Search(tenant, "all-MiniLM-L6-v2", query, {"context"}, 10, &hits).ok());
//
// The query vector goes to PostgreSQL as a real[] literal of the shortest decimal form of each
// float, which reads back to the same float: the database and the service see identical queries.
//
// Thread-safety: one SqlGroundTruth holds one libpq connection and must be used by one thread
// at a time.
#pragma once

#include <libpq-fe.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "src/pg/array_literal.h"

namespace vecmirror::testing {

// Two results may trade places when SQL's similarities differ by at most this much (float
// rounding in the service, double in SQL); each similarity must be within the second.
constexpr double kTieTolerance = 1e-6;
constexpr double kSimilarityTolerance = 1e-5;

struct SqlHit {
  std::string entity_id;  // canonical lower-case UUID, as PostgreSQL prints it
  std::string entity_type;
  double similarity = 0;
};

class SqlGroundTruth {
 public:
  static Status Connect(const std::string& conninfo, std::unique_ptr<SqlGroundTruth>* out) {
    PGconn* conn = PQconnectdb(conninfo.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn);
      PQfinish(conn);
      return Status::Unavailable("cannot connect to \"" + conninfo + "\": " + message);
    }
    out->reset(new SqlGroundTruth(conn));
    return Status::Ok();
  }

  ~SqlGroundTruth() { PQfinish(conn_); }
  SqlGroundTruth(const SqlGroundTruth&) = delete;
  SqlGroundTruth& operator=(const SqlGroundTruth&) = delete;

  // vm_search_similar_entities(tenant, model, query, types, limit): best first, ties by id.
  // Empty `types` accepts every type (passed as NULL).
  Status Search(const std::string& tenant, const std::string& model, std::span<const float> query,
                const std::vector<std::string>& types, int limit, std::vector<SqlHit>* out) {
    const std::string vector = pg::RealArrayLiteral(query);
    return Run(
        "SELECT entity_id, entity_type, similarity "
        "FROM vm_search_similar_entities($1::uuid, $2::text, $3::real[], $4::text[], $5::int)",
        {tenant, model, vector, TypesParam(types), std::to_string(limit)}, types.empty(), out);
  }

  // "More like this": the same search with the stored vector of (entity_id, model) as the query,
  // and that entity left out. Asks for one more row than `limit` and drops the entity itself.
  // An entity without a stored vector gives no rows.
  Status SearchLike(const std::string& tenant, const std::string& model,
                    const std::string& entity_id, const std::vector<std::string>& types, int limit,
                    std::vector<SqlHit>* out) {
    std::vector<SqlHit> hits;
    Status s = Run(
        "SELECT s.entity_id, s.entity_type, s.similarity "
        "FROM embedding q, vm_search_similar_entities($1::uuid, $2::text, q.vector::real[], "
        "                                             $4::text[], $5::int + 1) s "
        "WHERE q.entity_id = $3::uuid AND q.model = $2::text",
        {tenant, model, entity_id, TypesParam(types), std::to_string(limit)}, types.empty(), &hits);
    if (!s.ok()) return s;
    out->clear();
    for (SqlHit& hit : hits) {
      if (hit.entity_id != entity_id && static_cast<int>(out->size()) < limit) {
        out->push_back(std::move(hit));
      }
    }
    return Status::Ok();
  }

 private:
  explicit SqlGroundTruth(PGconn* conn) : conn_(conn) {}

  static std::string TypesParam(const std::vector<std::string>& types) {
    return types.empty() ? std::string() : pg::TextArrayLiteral(types);
  }

  // Runs `sql` with text parameters; the fourth parameter ($4, the types) is NULL when
  // `types_null`.
  Status Run(const char* sql, const std::vector<std::string>& params, bool types_null,
             std::vector<SqlHit>* out) {
    std::vector<const char*> values;
    for (size_t i = 0; i < params.size(); ++i) {
      values.push_back(i == 3 && types_null ? nullptr : params[i].c_str());
    }
    PGresult* result = PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0);
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
      std::string message = PQresultErrorMessage(result);
      PQclear(result);
      return Status::IOError("vm_search_similar_entities: " + message);
    }
    out->clear();
    for (int row = 0; row < PQntuples(result); ++row) {
      SqlHit hit;
      hit.entity_id = PQgetvalue(result, row, 0);
      hit.entity_type = PQgetvalue(result, row, 1);
      hit.similarity = std::strtod(PQgetvalue(result, row, 2), nullptr);
      out->push_back(std::move(hit));
    }
    PQclear(result);
    return Status::Ok();
  }

  PGconn* conn_;
};

}  // namespace vecmirror::testing
