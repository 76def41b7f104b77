// Retries on UNAVAILABLE: bounded in attempts and by the deadline, against a loopback port that
// nobody listens on (a real connection refusal, no server double).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { StatusCode, VecmirrorClient, VecmirrorError, type ClientOptions, type RetryEvent } from "@vecmirror/client";

import { freeLoopbackPort } from "./support/server-process";

const QUERY = { tenantId: "00000000-0000-4000-8000-000000000001", model: "all-MiniLM-L6-v2", vector: [1, 0, 0] };

async function deadClient(options: Omit<ClientOptions, "address">) {
  const retries: RetryEvent[] = [];
  const client = new VecmirrorClient({
    address: `127.0.0.1:${await freeLoopbackPort()}`,
    onRetry: (event) => retries.push(event),
    ...options,
  });
  return { client, retries };
}

function assertUnavailable(error: unknown, attempts: number): true {
  assert.ok(error instanceof VecmirrorError, String(error));
  assert.equal(error.code, StatusCode.UNAVAILABLE, error.message);
  assert.equal(error.attempts, attempts);
  return true;
}

describe("retries on UNAVAILABLE", () => {
  it("stop after maxAttempts, backing off in between", async () => {
    const { client, retries } = await deadClient({
      retry: { maxAttempts: 3, initialBackoffMs: 40 },
      deadlineMs: 10_000,
    });
    const started = Date.now();
    await assert.rejects(client.searchSimilarEntities(QUERY), (error) => assertUnavailable(error, 3));
    const elapsed = Date.now() - started;
    client.close();

    assert.deepEqual(
      retries.map((event) => event.attempt),
      [1, 2],
    );
    assert.ok(retries.every((event) => event.method === "SearchSimilarEntities"));
    assert.ok(retries.every((event) => event.error.code === StatusCode.UNAVAILABLE));
    // Backoff: 20..40 ms, then 40..80 ms (the upper half of each exponential step).
    const [first, second] = retries.map((event) => event.delayMs);
    assert.ok(first! >= 20 && first! <= 40, `first delay ${first}`);
    assert.ok(second! >= 40 && second! <= 80, `second delay ${second}`);
    assert.ok(elapsed >= first! + second!, `took ${elapsed} ms`);
    assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
  });

  it("stop at the deadline however many attempts are left", async () => {
    const { client, retries } = await deadClient({
      retry: { maxAttempts: 1_000, initialBackoffMs: 50, maxBackoffMs: 200 },
      deadlineMs: 1_000,
    });
    const started = Date.now();
    await assert.rejects(client.getMirrorStatus(), (error) => assertUnavailable(error, retries.length + 1));
    const elapsed = Date.now() - started;
    client.close();
    assert.ok(retries.length >= 2 && retries.length < 1_000, `${retries.length} retries`);
    assert.ok(elapsed < 1_000 + 500, `took ${elapsed} ms with a 1000 ms deadline`);
  });

  it("are off with maxAttempts 1, and never used by the health check", async () => {
    const { client, retries } = await deadClient({ retry: { maxAttempts: 1 } });
    await assert.rejects(client.listIndexes(), (error) => assertUnavailable(error, 1));
    client.close();
    const health = await deadClient({});
    await assert.rejects(health.client.checkHealth(), (error) => assertUnavailable(error, 1));
    health.client.close();
    assert.equal(retries.length + health.retries.length, 0);
  });

  it("end early when the caller aborts", async () => {
    const { client } = await deadClient({ retry: { maxAttempts: 100, initialBackoffMs: 1_000 }, deadlineMs: 60_000 });
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const started = Date.now();
    await assert.rejects(client.search(QUERY, { signal: abort.signal }), (error: unknown) => {
      assert.ok(error instanceof VecmirrorError);
      assert.equal(error.code, StatusCode.CANCELLED);
      return true;
    });
    client.close();
    assert.ok(Date.now() - started < 2_000);
  });

  it("refuse a policy that makes no sense", () => {
    const address = "127.0.0.1:1";
    assert.throws(() => new VecmirrorClient({ address, retry: { maxAttempts: 0 } }), RangeError);
    assert.throws(() => new VecmirrorClient({ address, retry: { backoffMultiplier: 0.5 } }), RangeError);
    assert.throws(() => new VecmirrorClient({ address, deadlineMs: 0 }), RangeError);
  });
});
