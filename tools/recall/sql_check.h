// Checking a source's exact answers against the contract itself: the SQL of DESIGN.md ("The
// contract"), run by PostgreSQL on the database the service mirrors. It is the query of
// sql/search_similar_entities.sql inlined, so the database needs no function of ours: the
// cosine similarity computed in double precision from emb.vector::real[] (which also reads a
// pgvector column), current and not-deleted entities, completed rows, ordered by similarity
// descending and then entity_id. Each check is a sequential scan of one tenant's rows of one
// model: meant for a sample of queries, not for load.
//
// CompareAnswers then lists every way the service's answer differs: a missing or extra entity,
// a wrong type, a similarity off by more than 1e-5, an order that SQL's similarities do not
// allow. Two entities whose SQL similarities are within 1e-6 may trade places (the service
// ranks float similarities, SQL double ones), also across the last rank, which is why SQL is
// asked for one row more than the service.
//
// Thread-safety: a SqlChecker holds one libpq connection; use it from one thread at a time.
// CompareAnswers is a pure function.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/uuid.h"
#include "index/index_key.h"
#include "tools/recall/index_source.h"

namespace vecmirror::recall {

struct CompareTolerances {
  double similarity = 1e-5;  // |service - SQL| allowed for one entity's similarity
  double tie = 1e-6;         // SQL similarities this close may appear in either order
};

// One way an answer differs from SQL's.
struct Divergence {
  IndexKey key;
  std::string query;      // "entity <uuid>" (leave-one-out) or "query 3" (the query file's row)
  std::string types;      // the filter, "all" or "a+b"
  std::string what;       // "missing", "extra", "type", "similarity", "order", "count", "query"
  std::string entity_id;  // the entity concerned; empty for "count"
  size_t rank = 0;        // 1-based: in the service's answer, or SQL's for "missing"
  std::string service;    // the service's value ("" when it has none)
  std::string sql;        // SQL's value ("" when it has none)
  std::string ToString() const;
};

struct SqlCheckResult {
  std::string database;  // "dbname at host:port" (never the password)
  size_t queries = 0;    // answers compared
  std::vector<Divergence> divergences;
};

// The differences between `service` (at most `limit` hits) and `sql` (SQL's answer to the same
// query with limit + 1 rows). The Divergence's key, query and types are left empty.
std::vector<Divergence> CompareAnswers(const std::vector<SourceHit>& service,
                                       const std::vector<SourceHit>& sql, size_t limit,
                                       const CompareTolerances& tolerances = {});

class SqlChecker {
 public:
  // `dsn`: a libpq URI or key=value string; a password may come from PGPASSWORD or ~/.pgpass.
  static Status Connect(const std::string& dsn, std::unique_ptr<SqlChecker>* out);
  ~SqlChecker();
  SqlChecker(const SqlChecker&) = delete;
  SqlChecker& operator=(const SqlChecker&) = delete;

  // "dbname at host:port".
  std::string Describe() const;

  // The contract's answer for `vector`, leaving out `exclude`, filtered by `types` (empty: all).
  Status Search(const IndexKey& key, std::span<const float> vector,
                const std::vector<std::string>& types, const std::optional<Uuid>& exclude,
                size_t limit, std::vector<SourceHit>* out);

  // "More like this": the stored vector of `entity` (its searchable row of key.model) as the
  // query, the entity left out. NotFound when SQL has no searchable row for it.
  Status SearchLike(const IndexKey& key, const Uuid& entity, const std::vector<std::string>& types,
                    size_t limit, std::vector<SourceHit>* out);

 private:
  explicit SqlChecker(PGconn* conn) : conn_(conn) {}
  Status Run(const IndexKey& key, const std::string& vector_literal,
             const std::vector<std::string>& types, const std::optional<Uuid>& exclude,
             size_t limit, std::vector<SourceHit>* out);

  PGconn* conn_;
};

}  // namespace vecmirror::recall
