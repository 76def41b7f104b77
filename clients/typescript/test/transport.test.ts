// What the client puts on the wire: the bearer token, the deadline, retries of UNAVAILABLE only,
// TLS. These are observed on a loopback grpc-js server that records each call and answers as
// told; what the answers mean is tested against the real vecmirror-server in search.test.ts
// (which does not check tokens yet).
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";

import { Metadata, Server, ServerCredentials, status, type ServiceError } from "@grpc/grpc-js";
import {
  StatusCode,
  VecmirrorClient,
  VecmirrorError,
  VectorSearchService,
  type ClientOptions,
  type MirrorStatus,
} from "@vecmirror/client";

interface RecordedCall {
  metadata: Metadata;
  deadline: number;
}

describe("on the wire", () => {
  const server = new Server();
  let address: string;
  let calls: RecordedCall[] = [];
  // The codes the next calls fail with, in order; OK after that.
  let failures: StatusCode[] = [];
  const clients: VecmirrorClient[] = [];

  const connect = (options: Omit<ClientOptions, "address"> = {}): VecmirrorClient => {
    const client = new VecmirrorClient({ address, ...options });
    clients.push(client);
    return client;
  };

  before(async () => {
    const emptyStatus = (): MirrorStatus => VectorSearchService.getMirrorStatus.responseDeserialize(Buffer.alloc(0));
    server.addService(VectorSearchService, {
      getMirrorStatus: (
        call: { metadata: Metadata; getDeadline(): Date | number },
        reply: (error: Partial<ServiceError> | null, value?: MirrorStatus) => void,
      ) => {
        calls.push({ metadata: call.metadata, deadline: Number(call.getDeadline()) });
        const code = failures.shift();
        if (code === undefined) reply(null, { ...emptyStatus(), state: "streaming" });
        else reply({ code, details: `told to fail with ${status[code]}` });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    address = `127.0.0.1:${port}`;
  });

  beforeEach(() => {
    calls = [];
    failures = [];
  });

  after(() => {
    for (const client of clients) client.close();
    server.forceShutdown();
  });

  it("sends the token as authorization: Bearer", async () => {
    await connect({ token: "s3cret" }).getMirrorStatus();
    assert.deepEqual(calls[0]?.metadata.get("authorization"), ["Bearer s3cret"]);
  });

  it("asks a token provider on every call, so that a rotated token is used", async () => {
    let issued = 0;
    const client = connect({ token: async () => `token-${++issued}` });
    await client.getMirrorStatus();
    await client.getMirrorStatus();
    assert.deepEqual(
      calls.map((call) => call.metadata.get("authorization")),
      [["Bearer token-1"], ["Bearer token-2"]],
    );
  });

  it("sends no authorization without a token", async () => {
    await connect().getMirrorStatus();
    assert.deepEqual(calls[0]?.metadata.get("authorization"), []);
  });

  it("sets a deadline on every call: 5 s by default, or as configured", async () => {
    const cases: Array<{ want: number; call: () => Promise<unknown> }> = [
      { want: 5_000, call: () => connect().getMirrorStatus() },
      { want: 1_500, call: () => connect({ deadlineMs: 1_500 }).getMirrorStatus() },
      { want: 700, call: () => connect().getMirrorStatus({ deadlineMs: 700 }) },
    ];
    for (const { want, call } of cases) {
      calls = [];
      const sent = Date.now();
      await call();
      const answered = Date.now();
      // The server's deadline is its receipt time plus the timeout the client sent, which is at
      // most `want`: it ends by `answered + want` however long making the client and the trip
      // took (a loaded machine can stretch those past any fixed margin over `sent`).
      const budget = calls[0]!.deadline - sent;
      const past = calls[0]!.deadline - (answered + want);
      assert.ok(budget > want - 1_000 && past <= 0, `deadline in ${budget} ms (${past} ms past the answer + ${want}), wanted about ${want}`);
    }
  });

  it("retries a server's UNAVAILABLE and then succeeds, with the same metadata", async () => {
    failures = [StatusCode.UNAVAILABLE, StatusCode.UNAVAILABLE];
    const retried: number[] = [];
    const client = connect({
      token: "t",
      retry: { initialBackoffMs: 10 },
      onRetry: (event) => retried.push(event.attempt),
    });
    const status = await client.getMirrorStatus();
    assert.equal(status.state, "streaming");
    assert.equal(calls.length, 3);
    assert.deepEqual(retried, [1, 2]);
    assert.ok(calls.every((call) => call.metadata.get("authorization")[0] === "Bearer t"));
  });

  it("does not retry any other code", async () => {
    for (const code of [StatusCode.RESOURCE_EXHAUSTED, StatusCode.INTERNAL, StatusCode.INVALID_ARGUMENT]) {
      calls = [];
      failures = [code];
      await assert.rejects(connect({ retry: { initialBackoffMs: 10 } }).getMirrorStatus(), (error: unknown) => {
        assert.ok(error instanceof VecmirrorError);
        assert.equal(error.code, code);
        assert.equal(error.attempts, 1);
        assert.match(error.details, /told to fail/);
        return true;
      });
      assert.equal(calls.length, 1, `${status[code]} was sent ${calls.length} times`);
    }
  });

  it("speaks TLS when asked: a plaintext server never sees the call", async () => {
    const client = connect({ tls: { serverName: "localhost" }, retry: { maxAttempts: 1 }, deadlineMs: 2_000 });
    await assert.rejects(client.getMirrorStatus(), (error: unknown) => {
      assert.ok(error instanceof VecmirrorError);
      assert.equal(error.code, StatusCode.UNAVAILABLE);
      return true;
    });
    assert.equal(calls.length, 0);
  });

  it("refuses a client certificate without its key, and a key without its certificate", () => {
    const pem = Buffer.from("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
    assert.throws(() => new VecmirrorClient({ address, tls: { certChain: pem } }), TypeError);
    assert.throws(() => new VecmirrorClient({ address, tls: { privateKey: pem } }), TypeError);
  });
});
