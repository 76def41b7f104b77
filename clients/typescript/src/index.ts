// @vecmirror/client: a typed client of vecmirror's gRPC API (proto/vecmirror/v1/vecmirror.proto).
export { VecmirrorClient, type BatchItem, type CallOptions, type Searcher } from "./client";
export { StatusCode, VecmirrorError, statusCodeName } from "./errors";
export { formatLsn, parseLsn, toLsn, type Lsn, type LsnLike } from "./lsn";
export {
  DEFAULT_DEADLINE_MS,
  DEFAULT_KEEPALIVE,
  type ClientOptions,
  type KeepaliveOptions,
  type TlsOptions,
  type TokenProvider,
} from "./options";
export { DEFAULT_RETRY_POLICY, type RetryEvent, type RetryPolicy } from "./retry";
export type { SearchEffort, SearchOutcome, SearchQuery, SimilarEntity } from "./search";
// The generated message types of the results, and the enums they carry.
export { HealthCheckResponse_ServingStatus as ServingStatus } from "./generated/health/v1/health";
export {
  IndexKind,
  // The service definition, for grpc-js servers such as a test double of vecmirror.
  VectorSearchService,
  type BadRowCounters,
  type IndexInfo,
  type ListIndexesResponse,
  type MirrorStatus,
} from "./generated/vecmirror/v1/vecmirror";
