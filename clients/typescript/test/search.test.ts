// The client end to end: generated data in a scratch database on the throwaway PostgreSQL, the
// real vecmirror-server mirroring it, and the client's answers compared with the SQL ground
// truth (vm_search_similar_entities). Every index stays flat at this size, so answers are exact.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import {
  IndexKind,
  parseLsn,
  ServingStatus,
  StatusCode,
  VecmirrorClient,
  VecmirrorError,
  type SearchQuery,
} from "@vecmirror/client";
import type { Client } from "pg";

import { searchSimilarEntitiesWith } from "../examples/search-similar-entities";
import { loadDataset, queryVector, type DatasetSpec } from "./support/datagen";
import { assertMatchesTruth, sqlSearch } from "./support/ground-truth";
import { ScratchDatabase } from "./support/scratch-database";
import { ServerProcess } from "./support/server-process";

const SMALL_MODEL = "all-MiniLM-L6-v2";
const LARGE_MODEL = "text-embedding-3-small";
const DATASET: DatasetSpec = {
  tenants: 2,
  entitiesPerTenant: 300,
  models: [`${SMALL_MODEL}:384`, `${LARGE_MODEL}:1536`],
  seed: 1107,
  badRows: 0.03,
};
const QUERIES_PER_MODEL = 3;
const TYPE_FILTERS: ReadonlyArray<readonly string[]> = [[], ["context"], ["template", "workflow"]];
const LIMITS = [1, 10, 50];
// SQL rows fetched past the limit, so that a tie at the cut can be judged.
const EXTRA_TRUTH_ROWS = 5;
const SETUP_TIMEOUT_MS = 180_000;

/** The ground truth's row count for everything searchable of one tenant and model. */
const ALL_ROWS = 1_000_000;

describe("VecmirrorClient against vecmirror-server and PostgreSQL", { timeout: 300_000 }, () => {
  let database: ScratchDatabase;
  let server: ServerProcess | undefined;
  let client: VecmirrorClient;
  let pg: Client;
  let tenants: string[];
  const queries = new Map<string, number[][]>(); // by model

  before(
    async () => {
      database = await ScratchDatabase.create("ts_client");
      await loadDataset(database.conninfo, DATASET);
      pg = await database.connect();
      tenants = (await pg.query<{ id: string }>("SELECT id::text FROM tenant ORDER BY id")).rows.map((r) => r.id);
      for (const model of [SMALL_MODEL, LARGE_MODEL]) {
        const vectors: number[][] = [];
        for (let index = 0; index < QUERIES_PER_MODEL; index++) vectors.push(await queryVector(DATASET, model, index));
        queries.set(model, vectors);
      }
      server = await ServerProcess.start(database.conninfo);
      client = new VecmirrorClient({ address: server.address, deadlineMs: 10_000 });
      await server.waitServing(client);
    },
    { timeout: SETUP_TIMEOUT_MS },
  );

  after(async () => {
    client?.close();
    await server?.stop();
    await pg?.end();
    await database?.drop();
  });

  const queriesOf = (model: string): number[][] => queries.get(model) ?? assert.fail(`no queries for ${model}`);

  it("reports the server SERVING and the mirror loaded and streaming", async () => {
    assert.equal(await client.checkHealth(), ServingStatus.SERVING);
    const status = await client.getMirrorStatus();
    assert.equal(status.loaded, true);
    assert.equal(status.state, "streaming");
    assert.equal(typeof status.appliedLsn, "bigint");
    assert.ok(status.appliedLsn > 0n, `applied LSN ${status.appliedLsn}`);
    assert.ok(status.slotName.length > 0);
  });

  it("answers vector searches as the SQL ground truth does", async () => {
    assert.equal(tenants.length, DATASET.tenants);
    for (const tenantId of tenants) {
      for (const model of [SMALL_MODEL, LARGE_MODEL]) {
        for (const [queryIndex, vector] of queriesOf(model).entries()) {
          for (const entityTypes of TYPE_FILTERS) {
            for (const limit of LIMITS) {
              const what = `tenant ${tenantId}, ${model}, query ${queryIndex}, types [${entityTypes}], limit ${limit}`;
              const truth = await sqlSearch(pg, {
                tenantId,
                model,
                vector,
                entityTypes,
                limit: limit + EXTRA_TRUTH_ROWS,
              });
              assert.ok(truth.length > 0, `${what}: SQL finds no rows, the data is not as planned`);
              const outcome = await client.search({ tenantId, model, vector, entityTypes, limit });
              assertMatchesTruth(outcome.results, truth, limit, what);
              assert.equal(outcome.exact, true, `${what}: a flat index answers exactly`);
              assert.equal(outcome.indexKind, IndexKind.INDEX_KIND_FLAT, what);
            }
          }
        }
      }
    }
  });

  it("drops rows below minSimilarity, and takes an explicit search effort", async () => {
    const tenantId = tenants[1]!;
    const vector = queriesOf(SMALL_MODEL)[2]!;
    const truth = await sqlSearch(pg, { tenantId, model: SMALL_MODEL, vector, limit: 20 });
    // Halfway between the 5th and the 6th row: float rounding cannot move a row across it.
    const minSimilarity = (truth[4]!.similarity + truth[5]!.similarity) / 2;
    const outcome = await client.search({
      tenantId,
      model: SMALL_MODEL,
      vector,
      limit: 20,
      minSimilarity,
      effort: { exact: true },
    });
    assertMatchesTruth(outcome.results, truth.slice(0, 5), 5, `minSimilarity ${minSimilarity}`);
    assert.equal(outcome.exact, true);
  });

  it("answers more-like-this searches as SQL does with the entity's vector, leaving the entity out", async () => {
    const tenantId = tenants[0]!;
    const seeds = await sqlSearch(pg, { tenantId, model: SMALL_MODEL, vector: queriesOf(SMALL_MODEL)[0]!, limit: 3 });
    assert.equal(seeds.length, 3);
    for (const { entityId } of seeds) {
      const stored = await pg.query<{ vector: number[] }>(
        "SELECT vector FROM embedding WHERE entity_id = $1 AND model = $2",
        [entityId, SMALL_MODEL],
      );
      const vector = stored.rows[0]!.vector;
      const limit = 10;
      const truth = (
        await sqlSearch(pg, { tenantId, model: SMALL_MODEL, vector, limit: limit + 1 + EXTRA_TRUTH_ROWS })
      ).filter((row) => row.entityId !== entityId);
      const rows = await client.searchSimilarEntities({ tenantId, model: SMALL_MODEL, queryEntityId: entityId, limit });
      assertMatchesTruth(rows, truth, limit, `more like ${entityId}`);
    }
  });

  it("serves the example handler's search_similar_entities(tenant, vector, type, limit)", async () => {
    const searchSimilarEntities = searchSimilarEntitiesWith(client, LARGE_MODEL);
    const tenantId = tenants[1]!;
    const vector = queriesOf(LARGE_MODEL)[1]!;
    for (const entityType of [null, "context", "library"]) {
      const truth = await sqlSearch(pg, {
        tenantId,
        model: LARGE_MODEL,
        vector,
        entityTypes: entityType === null ? [] : [entityType],
        limit: 5 + EXTRA_TRUTH_ROWS,
      });
      assertMatchesTruth(await searchSimilarEntities(tenantId, vector, entityType, 5), truth, 5, `type ${entityType}`);
    }
  });

  it("reads its own write: a row committed just before is found with the commit's LSN", async () => {
    const tenantId = tenants[0]!;
    const vector = await queryVector(DATASET, SMALL_MODEL, QUERIES_PER_MODEL); // used by no other test
    await pg.query("BEGIN");
    const entity = await pg.query<{ id: string }>(
      "INSERT INTO entity (tenant_id, entity_type, name) VALUES ($1, 'context', 'read-your-writes') RETURNING id::text",
      [tenantId],
    );
    const entityId = entity.rows[0]!.id;
    await pg.query(
      "INSERT INTO embedding (entity_id, model, vector, status) VALUES ($1, $2, $3::real[], 'completed')",
      [entityId, SMALL_MODEL, vector],
    );
    await pg.query("COMMIT");
    const lsn = (await pg.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn")).rows[0]!.lsn;

    // No sleep, no polling: the min_lsn wait is the whole point.
    const outcome = await client.afterCommit(lsn).search({ tenantId, model: SMALL_MODEL, vector, limit: 1 });
    assert.ok(outcome.appliedLsn >= parseLsn(lsn), `applied ${outcome.appliedLsn} < commit ${lsn}`);
    assert.equal(outcome.results[0]?.entityId, entityId);
    assert.ok(Math.abs(outcome.results[0].similarity - 1) <= 1e-5);

    // The same through the example handler's option.
    const rows = await searchSimilarEntitiesWith(client, SMALL_MODEL)(tenantId, vector, "context", 1, {
      afterCommitLsn: lsn,
    });
    assert.equal(rows[0]?.entityId, entityId);
  });

  it("fails with DEADLINE_EXCEEDED when min_lsn is not reached in time, with an LSN past 2^53", async () => {
    const started = Date.now();
    const search = client.search(
      { tenantId: tenants[0]!, model: SMALL_MODEL, vector: queriesOf(SMALL_MODEL)[0]!, minLsn: "FFFFFFFF/FFFFFFFF" },
      { deadlineMs: 500 },
    );
    await assert.rejects(search, (error: unknown) => {
      assert.ok(error instanceof VecmirrorError);
      assert.equal(error.code, StatusCode.DEADLINE_EXCEEDED);
      assert.equal(error.attempts, 1);
      return true;
    });
    assert.ok(Date.now() - started < 5_000, "the deadline bounds the wait");
  });

  it("maps INVALID_ARGUMENT to a VecmirrorError that names the field", async () => {
    const tenantId = tenants[0]!;
    const vector = queriesOf(SMALL_MODEL)[0]!;
    const cases: Array<{ query: SearchQuery; field: RegExp }> = [
      { query: { tenantId, model: SMALL_MODEL, vector, limit: 0 }, field: /\blimit\b/ },
      { query: { tenantId, model: SMALL_MODEL, vector, limit: 1001 }, field: /\blimit\b/ },
      { query: { tenantId: "not-a-uuid", model: SMALL_MODEL, vector }, field: /\btenant_id\b/ },
      { query: { tenantId, model: SMALL_MODEL, vector: vector.slice(0, 10) }, field: /\bquery\.vector\b/ },
      { query: { tenantId, model: SMALL_MODEL, vector: vector.map(() => 0) }, field: /\bquery\.vector\b/ },
      { query: { tenantId, model: "no-such-model", vector }, field: /\bmodel\b/ },
    ];
    for (const { query, field } of cases) {
      await assert.rejects(client.search(query), (error: unknown) => {
        assert.ok(error instanceof VecmirrorError, String(error));
        assert.equal(error.code, StatusCode.INVALID_ARGUMENT, error.message);
        assert.equal(error.codeName, "INVALID_ARGUMENT");
        assert.match(error.details, field);
        assert.match(error.message, /^SearchSimilarEntities: INVALID_ARGUMENT: /);
        assert.equal(error.attempts, 1, "INVALID_ARGUMENT is not retried");
        return true;
      });
    }
  });

  it("maps NOT_FOUND for more like an entity that is not mirrored", async () => {
    const query = { tenantId: tenants[0]!, model: SMALL_MODEL, queryEntityId: "00000000-0000-4000-8000-000000000000" };
    await assert.rejects(client.search(query), (error: unknown) => {
      assert.ok(error instanceof VecmirrorError);
      assert.equal(error.code, StatusCode.NOT_FOUND);
      return true;
    });
  });

  it("answers a batch in order, each search on its own", async () => {
    const tenantId = tenants[1]!;
    const [first, second] = queriesOf(LARGE_MODEL);
    const batch: SearchQuery[] = [
      { tenantId, model: LARGE_MODEL, vector: first!, entityTypes: ["context"], limit: 7 },
      { tenantId, model: LARGE_MODEL, vector: second!, limit: 0 },
      { tenantId, model: SMALL_MODEL, vector: queriesOf(SMALL_MODEL)[2]!, limit: 3 },
    ];
    const items = await client.batchSearch(batch);
    assert.equal(items.length, 3);
    for (const index of [0, 2]) {
      const item = items[index]!;
      assert.ok(item.ok, `item ${index} failed: ${item.ok ? "" : item.error.message}`);
      assert.deepEqual(item.outcome.results, await client.searchSimilarEntities(batch[index]!));
    }
    const refused = items[1]!;
    assert.ok(!refused.ok);
    assert.equal(refused.error.code, StatusCode.INVALID_ARGUMENT);
    assert.match(refused.error.details, /\blimit\b/);
    assert.match(refused.error.method, /\[1\]$/);
  });

  it("lists each index with the live rows the SQL ground truth counts", async () => {
    const tenantId = tenants[0]!;
    const { indexes, appliedLsn } = await client.listIndexes({ tenantId });
    assert.deepEqual(indexes.map((index) => index.model).sort(), [SMALL_MODEL, LARGE_MODEL].sort());
    for (const index of indexes) {
      assert.equal(index.tenantId, tenantId);
      assert.equal(index.kind, IndexKind.INDEX_KIND_FLAT);
      assert.equal(index.dimension, index.model === SMALL_MODEL ? 384 : 1536);
      const searchable = await sqlSearch(pg, {
        tenantId,
        model: index.model,
        vector: queriesOf(index.model)[0]!,
        limit: ALL_ROWS,
      });
      assert.equal(index.liveCount, BigInt(searchable.length), `live rows of ${index.model}`);
      assert.ok(index.coveredLsn > 0n && index.coveredLsn <= appliedLsn);
      // memory_bytes shared out over the live rows, each at least its raw fp32 vector.
      assert.equal(index.bytesPerVector, Number(index.memoryBytes) / Number(index.liveCount));
      assert.ok(index.bytesPerVector >= index.dimension * 4, `bytes per vector of ${index.model}`);
      assert.equal(index.vectorStorage, "fp32", `storage of ${index.model}`);
    }
    const small = await client.listIndexes({ tenantId, model: SMALL_MODEL });
    assert.deepEqual(
      small.indexes.map((index) => index.model),
      [SMALL_MODEL],
    );
  });
});
