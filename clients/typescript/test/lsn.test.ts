// LSNs as PostgreSQL prints them and as the API carries them (uint64, past 2^53).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { formatLsn, parseLsn, toLsn } from "@vecmirror/client";

describe("LSNs", () => {
  it("parse pg_lsn text into X << 32 | Y", () => {
    assert.equal(parseLsn("0/0"), 0n);
    assert.equal(parseLsn("0/16B3748"), 0x16b3748n);
    assert.equal(parseLsn("16/B374D848"), (0x16n << 32n) | 0xb374d848n);
    assert.equal(parseLsn("ffffffff/ffffffff"), 2n ** 64n - 1n);
  });

  it("keep every bit past 2^53, where numbers would round", () => {
    const lsn = parseLsn("200000/1"); // 2^53 + 1
    assert.equal(lsn, 2n ** 53n + 1n);
    assert.equal(BigInt(Number(lsn)), 2n ** 53n, "as a number it would lose its last bit");
    assert.equal(formatLsn(lsn), "200000/1");
  });

  it("format as PostgreSQL prints them, and round-trip", () => {
    for (const text of ["0/0", "0/1", "1/0", "16/B374D848", "FFFFFFFF/FFFFFFFF", "A/BCDEF012"]) {
      assert.equal(formatLsn(parseLsn(text)), text);
    }
  });

  it("refuse what is not an LSN", () => {
    for (const text of ["", "16", "16/", "/1", "G/1", "1/2/3", "123456789/0", "0x1/2", "-1/0"]) {
      assert.throws(() => parseLsn(text), RangeError, text);
    }
    assert.throws(() => toLsn(-1n), RangeError);
    assert.throws(() => toLsn(2n ** 64n), RangeError);
    assert.throws(() => toLsn(42 as unknown as bigint), TypeError, "numbers lose precision");
    assert.equal(toLsn(" 1/2 "), (1n << 32n) | 2n);
    assert.equal(toLsn(7n), 7n);
  });
});
