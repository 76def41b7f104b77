import { status as StatusCode, type ServiceError } from "@grpc/grpc-js";

export { StatusCode };

/**
 * A call the server (or the transport) refused. `code` is the gRPC status code; compare it with
 * `StatusCode.INVALID_ARGUMENT` and the like. For INVALID_ARGUMENT, `details` names the field at
 * fault and the value it expects, e.g. "limit is 0; expected 1 to 1000".
 */
export class VecmirrorError extends Error {
  override readonly name = "VecmirrorError";

  constructor(
    /** The gRPC status code. */
    readonly code: StatusCode,
    /** The server's (or gRPC's) message, without the code. */
    readonly details: string,
    /** The RPC, e.g. "SearchSimilarEntities". */
    readonly method: string,
    /** How many times the call was sent: more than 1 after retries on UNAVAILABLE. */
    readonly attempts = 1,
    options?: { cause?: unknown },
  ) {
    super(`${method}: ${statusCodeName(code)}: ${details}`, options);
  }

  /** The code's name, e.g. "INVALID_ARGUMENT". */
  get codeName(): string {
    return statusCodeName(this.code);
  }
}

/** "INVALID_ARGUMENT" for 3, and so on; "CODE_<n>" for a code gRPC does not define. */
export function statusCodeName(code: number): string {
  return StatusCode[code] ?? `CODE_${code}`;
}

/** The error a failed gRPC call rejects with, as a VecmirrorError. */
export function fromServiceError(error: unknown, method: string, attempts: number): VecmirrorError {
  if (isServiceError(error)) {
    return new VecmirrorError(error.code, error.details, method, attempts, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new VecmirrorError(StatusCode.UNKNOWN, message, method, attempts, { cause: error });
}

function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === "number";
}
