import { credentials, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";

import type { RetryEvent, RetryPolicy } from "./retry";

/** TLS towards the server; with client certificates, mutual TLS. PEM contents, not paths. */
export interface TlsOptions {
  /** CA certificates that sign the server's certificate; omitted: the system's roots. */
  rootCerts?: Buffer;
  /** The client's certificate chain, for mTLS; needs `privateKey`. */
  certChain?: Buffer;
  /** The client's private key, for mTLS; needs `certChain`. */
  privateKey?: Buffer;
  /** The name to check the server's certificate against, when it differs from the address's host. */
  serverName?: string;
}

/** Supplies the bearer token for each call, so that a rotated token is picked up. */
export type TokenProvider = () => string | Promise<string>;

export interface ClientOptions {
  /** The server, "host:port" (any gRPC target, e.g. "dns:///vecmirror.internal:50051"). */
  address: string;
  /** Omitted: plaintext, for loopback and development only. */
  tls?: TlsOptions;
  /**
   * Sent as `authorization: Bearer <token>` on every call. Without `tls` the token crosses the
   * network in the clear: use that only on loopback.
   */
  token?: string | TokenProvider;
  /** The time a call may take, retries and min_lsn waits included, in ms. Default 5000. */
  deadlineMs?: number;
  /** Retries on UNAVAILABLE; see RetryPolicy for the defaults. */
  retry?: Partial<RetryPolicy>;
  /** Told before each retry, e.g. to log or count them. */
  onRetry?: (event: RetryEvent) => void;
  /** HTTP/2 keepalive pings while calls are open; see DEFAULT_KEEPALIVE. */
  keepalive?: Partial<KeepaliveOptions>;
  /** Raw grpc-js channel options, applied last (they win). */
  channelOptions?: ChannelOptions;
}

export interface KeepaliveOptions {
  /** Idle time on a connection with open calls before a ping, in ms. */
  timeMs: number;
  /** Time to wait for the ping's answer before the connection counts as dead, in ms. */
  timeoutMs: number;
}

export const DEFAULT_DEADLINE_MS = 5_000;

// Pings only while calls are open: a gRPC C++ server by default answers pings on an idle
// connection more often than every 2 hours with GOAWAY (too_many_pings).
export const DEFAULT_KEEPALIVE: Readonly<KeepaliveOptions> = Object.freeze({ timeMs: 30_000, timeoutMs: 10_000 });

// The server's default --max-message-bytes: a batch of 1000 searches of 1000 results fits.
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

// The channel's own reconnect backoff starts at 1 s in grpc-js; a retry sooner than that would
// find the channel still waiting and fail at once. Start it where the retry policy starts.
const INITIAL_RECONNECT_BACKOFF_MS = 100;
const MAX_RECONNECT_BACKOFF_MS = 5_000;

export function channelCredentials(tls: TlsOptions | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  if ((tls.certChain === undefined) !== (tls.privateKey === undefined)) {
    throw new TypeError("tls.certChain and tls.privateKey go together: give both for mTLS, or neither");
  }
  return credentials.createSsl(tls.rootCerts ?? null, tls.privateKey ?? null, tls.certChain ?? null);
}

export function channelOptions(options: ClientOptions): ChannelOptions {
  const keepalive = { ...DEFAULT_KEEPALIVE, ...options.keepalive };
  const serverName = options.tls?.serverName;
  return {
    "grpc.keepalive_time_ms": keepalive.timeMs,
    "grpc.keepalive_timeout_ms": keepalive.timeoutMs,
    "grpc.keepalive_permit_without_calls": 0,
    "grpc.initial_reconnect_backoff_ms": INITIAL_RECONNECT_BACKOFF_MS,
    "grpc.max_reconnect_backoff_ms": MAX_RECONNECT_BACKOFF_MS,
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    ...(serverName === undefined
      ? {}
      : { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName }),
    ...options.channelOptions,
  };
}
