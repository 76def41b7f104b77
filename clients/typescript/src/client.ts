import { setTimeout as sleep } from "node:timers/promises";

import { Metadata, type CallOptions as GrpcCallOptions, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";

import { fromServiceError, StatusCode, VecmirrorError } from "./errors";
import { HealthCheckResponse_ServingStatus as ServingStatus, HealthClient } from "./generated/health/v1/health";
import { VectorSearchClient, type ListIndexesResponse, type MirrorStatus } from "./generated/vecmirror/v1/vecmirror";
import { toLsn, type LsnLike } from "./lsn";
import { channelCredentials, channelOptions, DEFAULT_DEADLINE_MS, type ClientOptions } from "./options";
import { retryDelayMs, retryPolicy, type RetryPolicy } from "./retry";
import {
  toSearchOutcome,
  toSearchRequest,
  withMinLsn,
  type SearchOutcome,
  type SearchQuery,
  type SimilarEntity,
} from "./search";

/** Per-call settings that override the client's. */
export interface CallOptions {
  /** The time this call may take, retries included, in ms. */
  deadlineMs?: number;
  /** Cancels the call (it then fails with CANCELLED). */
  signal?: AbortSignal;
}

/** One answer of a batch: the search's outcome, or the error it would have got alone. */
export type BatchItem = { ok: true; outcome: SearchOutcome } | { ok: false; error: VecmirrorError };

/** The searches, as the client offers them and as `afterCommit` offers them. */
export interface Searcher {
  /** The rows of a search, best first. */
  searchSimilarEntities(query: SearchQuery, options?: CallOptions): Promise<SimilarEntity[]>;
  /** The rows with the applied LSN, whether the search was exact, and the index kind. */
  search(query: SearchQuery, options?: CallOptions): Promise<SearchOutcome>;
  /** Many searches in one call, answered in order, each succeeding or failing on its own. */
  batchSearch(queries: readonly SearchQuery[], options?: CallOptions): Promise<BatchItem[]>;
}

// A generated client method in the overload this file calls.
type UnaryMethod<Request, Response> = (
  request: Request,
  metadata: Metadata,
  options: Partial<GrpcCallOptions>,
  callback: (error: ServiceError | null, response: Response) => void,
) => ClientUnaryCall;

const NO_RETRIES = retryPolicy({ maxAttempts: 1 });

/**
 * A client of vecmirror's VectorSearch API over one gRPC channel. Create one per process and
 * share it; calls may run concurrently. `close()` it at shutdown.
 *
 *   const vecmirror = new VecmirrorClient({ address: "127.0.0.1:50051" });
 *   const rows = await vecmirror.searchSimilarEntities({ tenantId, model, vector, limit: 5 });
 */
export class VecmirrorClient implements Searcher {
  private readonly stub: VectorSearchClient;
  private readonly health: HealthClient;
  private readonly deadlineMs: number;
  private readonly retry: RetryPolicy;
  private readonly token: ClientOptions["token"];
  private readonly onRetry: ClientOptions["onRetry"];

  constructor(options: ClientOptions) {
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    checkDeadline(this.deadlineMs);
    this.retry = retryPolicy(options.retry);
    this.token = options.token;
    this.onRetry = options.onRetry;
    const credentials = channelCredentials(options.tls);
    this.stub = new VectorSearchClient(options.address, credentials, channelOptions(options));
    this.health = new HealthClient(options.address, credentials, { channelOverride: this.stub.getChannel() });
  }

  async searchSimilarEntities(query: SearchQuery, options?: CallOptions): Promise<SimilarEntity[]> {
    return (await this.search(query, options)).results;
  }

  async search(query: SearchQuery, options: CallOptions = {}): Promise<SearchOutcome> {
    const search = this.stub.searchSimilarEntities.bind(this.stub);
    const response = await this.call("SearchSimilarEntities", search, toSearchRequest(query), options);
    return toSearchOutcome(response);
  }

  async batchSearch(queries: readonly SearchQuery[], options: CallOptions = {}): Promise<BatchItem[]> {
    const method = "BatchSearchSimilarEntities";
    const batch = this.stub.batchSearchSimilarEntities.bind(this.stub);
    const response = await this.call(method, batch, { requests: queries.map(toSearchRequest) }, options);
    return response.items.map((item, index): BatchItem => {
      if (item.code === StatusCode.OK && item.response !== undefined) {
        return { ok: true, outcome: toSearchOutcome(item.response) };
      }
      return { ok: false, error: new VecmirrorError(item.code, item.message, `${method}[${index}]`) };
    });
  }

  /**
   * Read-your-writes: searches that wait until the mirror has applied `commitLsn`, the
   * `SELECT pg_current_wal_insert_lsn()` the caller read after its own commit (text "X/Y" or
   * bigint). The wait is bounded by each call's deadline (DEADLINE_EXCEEDED when it passes).
   */
  afterCommit(commitLsn: LsnLike): Searcher {
    const lsn = toLsn(commitLsn);
    return {
      searchSimilarEntities: (query, options) => this.searchSimilarEntities(withMinLsn(query, lsn), options),
      search: (query, options) => this.search(withMinLsn(query, lsn), options),
      batchSearch: (queries, options) =>
        this.batchSearch(
          queries.map((query) => withMinLsn(query, lsn)),
          options,
        ),
    };
  }

  /** Every index the server holds, or those of one tenant and/or model. */
  async listIndexes(
    filter: { tenantId?: string; model?: string } = {},
    options: CallOptions = {},
  ): Promise<ListIndexesResponse> {
    const request = { tenantId: filter.tenantId ?? "", model: filter.model ?? "" };
    return this.call("ListIndexes", this.stub.listIndexes.bind(this.stub), request, options);
  }

  /** The replication mirror: slot, applied/confirmed/server LSN, lag, counters. */
  async getMirrorStatus(options: CallOptions = {}): Promise<MirrorStatus> {
    return this.call("GetMirrorStatus", this.stub.getMirrorStatus.bind(this.stub), {}, options);
  }

  /**
   * The standard gRPC health check ("" = the whole server): SERVING once the first load is
   * complete. Not retried, so that a probe reports what it sees.
   */
  async checkHealth(service = "", options: CallOptions = {}): Promise<ServingStatus> {
    const check = this.health.check.bind(this.health);
    const response = await this.call("Health.Check", check, { service }, options, NO_RETRIES);
    return response.status;
  }

  /** Closes the channel; calls in flight fail with CANCELLED or UNAVAILABLE. */
  close(): void {
    this.stub.close();
  }

  // Sends one unary call within one deadline, retrying on UNAVAILABLE as the policy says.
  private async call<Request, Response>(
    method: string,
    unary: UnaryMethod<Request, Response>,
    request: Request,
    options: CallOptions,
    policy: RetryPolicy = this.retry,
  ): Promise<Response> {
    const deadlineMs = options.deadlineMs ?? this.deadlineMs;
    checkDeadline(deadlineMs);
    const deadline = Date.now() + deadlineMs;
    const metadata = await this.metadata();
    for (let attempt = 1; ; attempt++) {
      try {
        return await invoke(unary, request, metadata.clone(), deadline, options.signal);
      } catch (cause) {
        const error = fromServiceError(cause, method, attempt);
        const delayMs = retryDelayMs(policy, error.code, attempt, deadline - Date.now());
        if (delayMs === undefined || options.signal?.aborted) throw error;
        this.onRetry?.({ method, attempt, delayMs, error });
        await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : {}).catch(() => {
          const details = "cancelled while waiting to retry";
          throw new VecmirrorError(StatusCode.CANCELLED, details, method, attempt, { cause: error });
        });
      }
    }
  }

  private async metadata(): Promise<Metadata> {
    const metadata = new Metadata();
    if (this.token !== undefined) {
      const token = typeof this.token === "string" ? this.token : await this.token();
      metadata.set("authorization", `Bearer ${token}`);
    }
    return metadata;
  }
}

function invoke<Request, Response>(
  unary: UnaryMethod<Request, Response>,
  request: Request,
  metadata: Metadata,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const cancel = (): void => call.cancel();
    const call = unary(request, metadata, { deadline }, (error, response) => {
      signal?.removeEventListener("abort", cancel);
      if (error) reject(error);
      else resolve(response);
    });
    if (signal?.aborted) call.cancel();
    else signal?.addEventListener("abort", cancel, { once: true });
  });
}

function checkDeadline(deadlineMs: number): void {
  if (!(deadlineMs > 0) || !Number.isFinite(deadlineMs)) {
    throw new RangeError(`deadlineMs is ${deadlineMs}; expected a positive number of milliseconds`);
  }
}
