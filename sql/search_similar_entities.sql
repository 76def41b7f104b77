-- vm_search_similar_entities: the ground truth of DESIGN.md ("The contract") as a SQL function,
-- for tests and the recall tool to compare the service against.
--
--   SELECT * FROM vm_search_similar_entities(tenant, model, query, types, lim);
--
-- Arguments:
--   tenant  the tenant's id
--   model   the embedding model
--   query   the query vector (real[]); it need not be normalized
--   types   entity types to accept; NULL or an empty array accepts all (as the gRPC API does)
--   lim     the number of rows to return at most
-- Returns (entity_id, entity_type, similarity) ordered by similarity descending, ties broken by
-- entity_id ascending, where similarity is the cosine similarity computed in double precision:
-- sum(x*y) / (sqrt(sum(x^2)) * sqrt(sum(y^2))).
--
-- Rows that are not searchable are left out, as the service leaves them out: a NULL vector, a
-- vector whose dimension differs from the query's, and a vector whose cosine is undefined (NaN,
-- Inf, all zeros). A query with NaN, Inf or all zeros is the caller's error; the result is then
-- empty or meaningless.
--
-- It reads the column as emb.vector::real[], so on a pgvector `vector` column it relies on
-- pgvector's vector -> real[] cast (tested with the tests' stand-in type, which has one).
-- It is a sequential scan over the tenant's rows: fine for tests, not for production.
--
-- Idempotent (CREATE OR REPLACE); run it after sql/schema.sql.
CREATE OR REPLACE FUNCTION vm_search_similar_entities(
  tenant uuid, model text, query real[], types text[], lim int)
RETURNS TABLE (entity_id uuid, entity_type text, similarity double precision)
LANGUAGE sql STABLE
AS $function$
  SELECT emb.entity_id, e.entity_type, scored.similarity
  FROM embedding emb
  JOIN entity e ON e.id = emb.entity_id
               AND e.valid_to IS NULL
               AND e.deleted_at IS NULL
  CROSS JOIN LATERAL (
    SELECT sum(x::float8 * q::float8)
           / nullif(sqrt(sum(x::float8 * x::float8)) * sqrt(sum(q::float8 * q::float8)), 0)
           AS similarity
    FROM unnest(emb.vector::real[], $3) AS pairs(x, q)
  ) scored
  WHERE emb.status = 'completed'
    AND e.tenant_id = $1
    AND emb.model = $2
    AND ($4 IS NULL OR cardinality($4) = 0 OR e.entity_type = ANY ($4))
    AND emb.vector IS NOT NULL
    AND cardinality(emb.vector::real[]) = cardinality($3)
    AND scored.similarity IS NOT NULL
    AND scored.similarity NOT IN ('NaN', 'Infinity', '-Infinity')
  ORDER BY scored.similarity DESC, emb.entity_id
  LIMIT $5
$function$;
