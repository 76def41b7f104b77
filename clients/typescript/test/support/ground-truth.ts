// What PostgreSQL itself answers (vm_search_similar_entities, sql/search_similar_entities.sql:
// DESIGN.md's contract in SQL, similarities in double precision), and the comparison of the
// client's answer with it.
import assert from "node:assert/strict";

import type { SimilarEntity } from "@vecmirror/client";
import type { Client } from "pg";

// Two results may trade places when SQL's similarities differ by at most this much (float32 in
// the service, double in SQL); each similarity must be within the second (as the C++ suites).
export const TIE_TOLERANCE = 1e-6;
export const SIMILARITY_TOLERANCE = 1e-5;

export interface TruthQuery {
  tenantId: string;
  model: string;
  vector: readonly number[];
  entityTypes?: readonly string[];
  limit: number;
}

export async function sqlSearch(pg: Client, query: TruthQuery): Promise<SimilarEntity[]> {
  // node-postgres sends a number[] as an array literal of each number's shortest decimal form,
  // which real[] reads back to the same float32 values the client sent.
  const result = await pg.query<{ entity_id: string; entity_type: string; similarity: number }>(
    `SELECT entity_id::text, entity_type, similarity
       FROM vm_search_similar_entities($1::uuid, $2, $3::real[], $4::text[], $5)`,
    [query.tenantId, query.model, query.vector, query.entityTypes ?? null, query.limit],
  );
  return result.rows.map((row) => ({
    entityId: row.entity_id,
    entityType: row.entity_type,
    similarity: row.similarity,
  }));
}

/**
 * Asserts that `actual` is the SQL answer `truth` cut to `limit` rows: ids in order (up to ties),
 * types equal, similarities within SIMILARITY_TOLERANCE. `truth` may hold rows past `limit`,
 * which let a tied row from just beyond the cut stand in for one at it.
 */
export function assertMatchesTruth(actual: SimilarEntity[], truth: SimilarEntity[], limit: number, what: string): void {
  const expected = truth.slice(0, limit);
  assert.equal(actual.length, expected.length, `${what}: result count`);
  const truthById = new Map(truth.map((row) => [row.entityId, row]));
  assert.equal(new Set(actual.map((row) => row.entityId)).size, actual.length, `${what}: duplicate ids`);
  actual.forEach((row, rank) => {
    const want = expected[rank]!;
    const sqlRow = truthById.get(row.entityId);
    assert.ok(sqlRow, `${what}: rank ${rank} is ${row.entityId}, which SQL does not return near the top`);
    assert.ok(
      row.entityId === want.entityId || Math.abs(sqlRow.similarity - want.similarity) <= TIE_TOLERANCE,
      `${what}: rank ${rank} is ${row.entityId} (SQL similarity ${sqlRow.similarity}); ` +
        `SQL has ${want.entityId} (${want.similarity})`,
    );
    assert.equal(row.entityType, sqlRow.entityType, `${what}: type of ${row.entityId}`);
    assert.ok(
      Math.abs(row.similarity - sqlRow.similarity) <= SIMILARITY_TOLERANCE,
      `${what}: similarity of ${row.entityId} is ${row.similarity}; SQL says ${sqlRow.similarity}`,
    );
  });
}
