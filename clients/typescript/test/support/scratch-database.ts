// A database of its own on the throwaway cluster, for one test file: created with the schema
// and the SQL ground-truth function, dropped at the end with its replication slots. Named
// vmtest_*, so `scripts/pg-cluster.sh clean` (which the pg_cluster fixture runs) drops what a
// killed test left behind.
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { Client, type ClientConfig } from "pg";

import { environment, sourcePath } from "./environment";

const SLOT_RELEASE_POLLS = 100;
const SLOT_RELEASE_POLL_MS = 100;

export class ScratchDatabase {
  private constructor(
    readonly name: string,
    private readonly cluster: ClusterAddress,
  ) {}

  /** Creates vmtest_<hint>_<pid> with sql/schema.sql (real[] vectors) and the SQL function. */
  static async create(hint: string): Promise<ScratchDatabase> {
    const cluster = clusterAddress();
    const name = `vmtest_${hint}_${process.pid}`;
    await withClient(cluster.config("postgres"), (admin) => admin.query(`CREATE DATABASE ${name}`));
    const database = new ScratchDatabase(name, cluster);
    await database.withClient(async (client) => {
      // One session: schema.sql reads the setting.
      await client.query("SET client_min_messages = warning; SET vecmirror.vector_type = 'real[]'");
      for (const file of ["sql/schema.sql", "sql/search_similar_entities.sql"]) {
        await client.query(readFileSync(sourcePath(file), "utf8"));
      }
    });
    return database;
  }

  /** The libpq conninfo the server and the datagen CLI connect with. */
  get conninfo(): string {
    return this.cluster.conninfo(this.name);
  }

  /** A new connection to this database (the caller ends it). */
  async connect(): Promise<Client> {
    const client = new Client(this.cluster.config(this.name));
    await client.connect();
    return client;
  }

  async withClient<T>(use: (client: Client) => Promise<T>): Promise<T> {
    return withClient(this.cluster.config(this.name), use);
  }

  /** Drops the database after ending the walsenders that hold its replication slots. */
  async drop(): Promise<void> {
    await withClient(this.cluster.config("postgres"), async (admin) => {
      for (let poll = 0; ; poll++) {
        await admin.query(
          `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
            WHERE database = $1 AND active_pid IS NOT NULL`,
          [this.name],
        );
        await admin
          .query(
            `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
            WHERE database = $1 AND NOT active`,
            [this.name],
          )
          .catch(() => undefined); // another session may drop it first
        const left = await admin.query("SELECT count(*)::int AS n FROM pg_replication_slots WHERE database = $1", [
          this.name,
        ]);
        if (left.rows[0].n === 0) break;
        if (poll >= SLOT_RELEASE_POLLS) throw new Error(`replication slots of ${this.name} are still held`);
        await sleep(SLOT_RELEASE_POLL_MS);
      }
      await admin.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
    });
  }
}

interface ClusterAddress {
  config(database: string): ClientConfig;
  conninfo(database: string): string;
}

// The cluster that scripts/pg-cluster.sh runs, from the conninfo file it writes
// ("host=127.0.0.1 port=N user=postgres dbname=postgres").
function clusterAddress(): ClusterAddress {
  const file = path.join(environment.pgDir, "conninfo");
  if (!existsSync(file)) {
    throw new Error(
      `no PostgreSQL for the tests (${file} is missing): run them through ctest, or start one with ` +
        `scripts/pg-cluster.sh start ${environment.pgDir}`,
    );
  }
  const settings = new Map(
    readFileSync(file, "utf8")
      .trim()
      .split(/\s+/)
      .map((pair) => pair.split("=", 2) as [string, string]),
  );
  const host = settings.get("host") ?? "127.0.0.1";
  const port = Number(settings.get("port"));
  const user = settings.get("user") ?? "postgres";
  return {
    config: (database) => ({ host, port, user, database }),
    conninfo: (database) => `host=${host} port=${port} user=${user} dbname=${database}`,
  };
}

async function withClient<T>(config: ClientConfig, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client(config);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
