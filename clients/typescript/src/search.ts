// Searches as callers write them, and answers shaped like the rows of the SQL function
// search_similar_entities(tenant_id, query_vector, entity_type, limit) that they replace.
import type { IndexKind, SearchRequest, SearchResponse } from "./generated/vecmirror/v1/vecmirror";
import { toLsn, type Lsn, type LsnLike } from "./lsn";

interface SearchQueryFields {
  /** The tenant's id, a UUID. */
  tenantId: string;
  /** The embedding model, e.g. "text-embedding-3-small". */
  model: string;
  /** Entity types to accept, e.g. ["context", "template"]; omitted or empty: all. */
  entityTypes?: readonly string[];
  /** Results wanted, 1 to 1000; omitted: 10. */
  limit?: number;
  /** Leaves out results whose cosine similarity is below this. */
  minSimilarity?: number;
  /**
   * Waits (within the call's deadline) until the mirror has applied this WAL position: pass the
   * `pg_current_wal_insert_lsn()` read after your own commit to see your own writes.
   */
  minLsn?: LsnLike;
  /** Search effort of an approximate index; omitted: the index's default. */
  effort?: SearchEffort;
}

export interface SearchEffort {
  /** HNSW candidate list size, up to 4096. */
  efSearch?: number;
  /** IVF lists probed, up to 65536. */
  nprobe?: number;
  /** Scans the allowed rows exactly: recall 1. */
  exact?: boolean;
}

/** A search by query vector, or "more like this" by an entity's mirrored vector (the entity
 *  itself is left out of the results). */
export type SearchQuery =
  | (SearchQueryFields & { vector: ArrayLike<number>; queryEntityId?: never })
  | (SearchQueryFields & { queryEntityId: string; vector?: never });

/** One row: as search_similar_entities returns it. */
export interface SimilarEntity {
  entityId: string;
  entityType: string;
  /** Cosine similarity, as pgvector's 1 - (a <=> b). */
  similarity: number;
}

/** A search's rows and what they were computed from. */
export interface SearchOutcome {
  /** Best first; ties in similarity by entityId ascending. */
  results: SimilarEntity[];
  /** The search saw exactly the transactions committed up to this WAL position. */
  appliedLsn: Lsn;
  /** True when the rows came from an exact scan (recall 1). */
  exact: boolean;
  /** INDEX_KIND_UNSPECIFIED when the tenant has no index for the model yet. */
  indexKind: IndexKind;
}

export function toSearchRequest(query: SearchQuery): SearchRequest {
  const { vector, queryEntityId } = query as { vector?: ArrayLike<number>; queryEntityId?: string };
  if (vector !== undefined && queryEntityId !== undefined) {
    throw new TypeError("a search takes either vector or queryEntityId, not both");
  }
  // Neither is the server's to refuse: it says INVALID_ARGUMENT and names the field.
  return {
    tenantId: query.tenantId,
    model: query.model,
    vector: vector === undefined ? undefined : { values: Array.from(vector) },
    queryEntityId,
    entityTypes: [...(query.entityTypes ?? [])],
    limit: query.limit,
    minSimilarity: query.minSimilarity,
    minLsn: query.minLsn === undefined ? 0n : toLsn(query.minLsn),
    effort: query.effort && {
      efSearch: query.effort.efSearch ?? 0,
      nprobe: query.effort.nprobe ?? 0,
      exact: query.effort.exact ?? false,
    },
  };
}

export function toSearchOutcome(response: SearchResponse): SearchOutcome {
  return {
    results: response.results.map(({ entityId, entityType, similarity }) => ({ entityId, entityType, similarity })),
    appliedLsn: response.appliedLsn,
    exact: response.exact,
    indexKind: response.indexKind,
  };
}

/** The query with its minLsn raised to at least `lsn`. */
export function withMinLsn(query: SearchQuery, lsn: Lsn): SearchQuery {
  const own = query.minLsn === undefined ? 0n : toLsn(query.minLsn);
  return { ...query, minLsn: own > lsn ? own : lsn };
}
