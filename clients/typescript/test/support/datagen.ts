// Embedding-like test data from the repository's generator, tools/datagen (vecmirror-datagen):
// tenants, versioned entities, embeddings in every status, bad rows; and query vectors near the
// data's topical clusters.
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";

import { environment, requireBinary } from "./environment";

const run = promisify(execFile);
const DATAGEN_TIMEOUT_MS = 120_000;

export interface DatasetSpec {
  tenants: number;
  entitiesPerTenant: number;
  /** "name:dim" each, e.g. "all-MiniLM-L6-v2:384". */
  models: readonly string[];
  seed: number;
  /** Share of completed rows with a NULL, NaN, Inf, zero or wrong-dimension vector. */
  badRows: number;
}

/** Loads the dataset into the database behind `conninfo` (which has sql/schema.sql). */
export async function loadDataset(conninfo: string, spec: DatasetSpec): Promise<void> {
  await datagen({
    "--database-url": conninfo,
    "--tenants": String(spec.tenants),
    "--entities": String(spec.entitiesPerTenant),
    "--models": spec.models.join(","),
    "--seed": String(spec.seed),
    "--bad-rows": String(spec.badRows),
  });
}

/**
 * Query vector `index` of `model` for the dataset of `spec`, as float32 values: what the server
 * searches with is then exactly what PostgreSQL compares against.
 */
export async function queryVector(spec: DatasetSpec, model: string, index: number): Promise<number[]> {
  mkdirSync(environment.workDir, { recursive: true });
  const file = path.join(environment.workDir, `query-${process.pid}-${model}-${index}.txt`);
  await datagen({
    "--write-query": file,
    "--models": spec.models.join(","),
    "--model": model,
    "--seed": String(spec.seed),
    "--query-index": String(index),
  });
  const text = readFileSync(file, "utf8");
  rmSync(file);
  return text
    .trim()
    .split("\n")
    .map((line) => Math.fround(Number(line)));
}

async function datagen(flags: Record<string, string>): Promise<void> {
  const args = Object.entries(flags).flat();
  await run(requireBinary(environment.datagenBinary), args, { timeout: DATAGEN_TIMEOUT_MS });
}
