// The PromptCraft API's semantic search served by vecmirror: a drop-in for the SQL call
//
//   SELECT * FROM search_similar_entities(tenant_id, query_vector, entity_type, limit)
//
// on pgvector. Same arguments, same rows (entity id, entity type, cosine similarity, best first,
// ties by id), without the pgvector problems: any dimension, a full page of results under a
// selective entity_type, no CPU on the primary.
//
//   const vecmirror = new VecmirrorClient({ address: process.env.VECMIRROR_ADDRESS! });
//   const searchSimilarEntities = searchSimilarEntitiesWith(vecmirror, "text-embedding-3-small");
//   const rows = await searchSimilarEntities(tenantId, queryVector, "context", 10);
//
// After writing an entity, pass the `SELECT pg_current_wal_insert_lsn()::text` read after the
// commit as afterCommitLsn, and the search is sure to see the write.
import { VecmirrorClient, type SimilarEntity } from "@vecmirror/client";

export type SearchSimilarEntities = (
  tenantId: string,
  queryVector: readonly number[],
  /** One entity type ("context", "template", ...), or null for all of them. */
  entityType: string | null,
  limit: number,
  options?: { afterCommitLsn?: string },
) => Promise<SimilarEntity[]>;

/** search_similar_entities over `client`, for the vectors of embedding `model`. */
export function searchSimilarEntitiesWith(client: VecmirrorClient, model: string): SearchSimilarEntities {
  return (tenantId, queryVector, entityType, limit, options = {}) => {
    const searcher = options.afterCommitLsn === undefined ? client : client.afterCommit(options.afterCommitLsn);
    return searcher.searchSimilarEntities({
      tenantId,
      model,
      vector: queryVector,
      entityTypes: entityType === null ? [] : [entityType],
      limit,
    });
  };
}
