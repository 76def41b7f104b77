// PostgreSQL WAL positions. The API carries them as uint64 (pg_lsn "X/Y" is X << 32 | Y); they
// pass 2^53 on a busy server, so they are bigints here and never JavaScript numbers.

/** A WAL position as the API carries it: an unsigned 64-bit integer. */
export type Lsn = bigint;

/**
 * A WAL position as callers have it: a bigint, or pg_lsn's text form "X/Y" as PostgreSQL prints
 * it (e.g. the result of `SELECT pg_current_wal_insert_lsn()::text`).
 */
export type LsnLike = Lsn | string;

const PG_LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const MAX_LSN = (1n << 64n) - 1n;

/** Parses pg_lsn text ("16/B374D848") into its uint64 value. Throws a RangeError otherwise. */
export function parseLsn(text: string): Lsn {
  const match = PG_LSN_TEXT.exec(text.trim());
  const [, high, low] = match ?? [];
  if (high === undefined || low === undefined) {
    throw new RangeError(
      `${JSON.stringify(text)} is not a pg_lsn: expected "X/Y", X and Y hexadecimal of up to 8 digits`,
    );
  }
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** Formats a uint64 WAL position as PostgreSQL prints pg_lsn ("16/B374D848"). */
export function formatLsn(lsn: Lsn): string {
  checkRange(lsn);
  const high = (lsn >> 32n).toString(16).toUpperCase();
  const low = (lsn & 0xffffffffn).toString(16).toUpperCase();
  return `${high}/${low}`;
}

/** The uint64 value of an LSN given as a bigint or as pg_lsn text. */
export function toLsn(value: LsnLike): Lsn {
  if (typeof value === "string") return parseLsn(value);
  if (typeof value !== "bigint") {
    // Plain JavaScript callers: a number may already have lost the low bits of a large LSN.
    throw new TypeError(`an LSN must be a bigint or pg_lsn text "X/Y", not a ${typeof value}`);
  }
  checkRange(value);
  return value;
}

function checkRange(lsn: Lsn): void {
  if (lsn < 0n || lsn > MAX_LSN) throw new RangeError(`LSN ${lsn} is outside the uint64 range`);
}
