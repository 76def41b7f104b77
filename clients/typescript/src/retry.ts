import { StatusCode, type VecmirrorError } from "./errors";

/**
 * Retries with exponential backoff, on UNAVAILABLE only: the server is starting (the first load is
 * not complete) or the connection could not be made. Every other code is final: a retry would get
 * the same answer (INVALID_ARGUMENT, NOT_FOUND) or outlive the caller's deadline.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 turns retries off. */
  maxAttempts: number;
  /** Delay before the first retry, in ms. */
  initialBackoffMs: number;
  /** Cap on any one delay, in ms. */
  maxBackoffMs: number;
  /** Growth of the delay from one retry to the next. */
  backoffMultiplier: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 4,
  initialBackoffMs: 100,
  maxBackoffMs: 2_000,
  backoffMultiplier: 2,
});

/** What `onRetry` hears before each retry: the failure, and how long the client waits. */
export interface RetryEvent {
  method: string;
  /** The attempt that failed, from 1. */
  attempt: number;
  delayMs: number;
  error: VecmirrorError;
}

export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...overrides };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new RangeError(`retry.maxAttempts is ${policy.maxAttempts}; expected an integer of at least 1`);
  }
  for (const key of ["initialBackoffMs", "maxBackoffMs"] as const) {
    if (!(policy[key] >= 0)) throw new RangeError(`retry.${key} is ${policy[key]}; expected 0 or more`);
  }
  if (!(policy.backoffMultiplier >= 1)) {
    throw new RangeError(`retry.backoffMultiplier is ${policy.backoffMultiplier}; expected 1 or more`);
  }
  return policy;
}

/**
 * How long to wait before retrying after `attempt` failed with `code`, or undefined when the call
 * must fail now: the code is final, the attempts are spent, or the wait would pass the deadline.
 * The delay is drawn from the upper half of the exponential step so that many clients that lost
 * the same server do not come back in step.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  code: StatusCode,
  attempt: number,
  msToDeadline: number,
  random: () => number = Math.random,
): number | undefined {
  if (code !== StatusCode.UNAVAILABLE || attempt >= policy.maxAttempts) return undefined;
  const step = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.backoffMultiplier ** (attempt - 1));
  const delay = Math.round(step * (0.5 + 0.5 * random()));
  return delay < msToDeadline ? delay : undefined;
}
