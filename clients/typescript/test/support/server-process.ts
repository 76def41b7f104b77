// The real vecmirror-server binary as a child process on a free loopback port, its output in a
// log file, and a client to it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, readFileSync, closeSync } from "node:fs";
import { createServer } from "node:net";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import { ServingStatus, VecmirrorClient } from "@vecmirror/client";

import { environment, requireBinary } from "./environment";

const SERVING_POLL_MS = 100;
const STOP_TIMEOUT_MS = 10_000;

export class ServerProcess {
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly address: string,
    readonly logPath: string,
  ) {
    child.once("exit", () => {
      this.exited = true;
    });
  }

  /** Starts the server on 127.0.0.1 with `args` after --database-url and --listen. */
  static async start(conninfo: string, args: readonly string[] = []): Promise<ServerProcess> {
    const binary = requireBinary(environment.serverBinary);
    const address = `127.0.0.1:${await freeLoopbackPort()}`;
    mkdirSync(environment.workDir, { recursive: true });
    const logPath = path.join(environment.workDir, `server-${process.pid}-${address.split(":")[1]}.log`);
    const log = openSync(logPath, "a");
    try {
      const child = spawn(binary, ["--database-url", conninfo, "--listen", address, ...args], {
        stdio: ["ignore", log, log],
      });
      return new ServerProcess(child, address, logPath);
    } finally {
      closeSync(log); // the child has its own descriptor
    }
  }

  /** Polls the health service until SERVING (the first load is complete); throws on timeout or exit. */
  async waitServing(client: VecmirrorClient, timeoutMs = 120_000): Promise<void> {
    const polls = Math.ceil(timeoutMs / SERVING_POLL_MS);
    let last = "no answer";
    for (let poll = 0; poll < polls && !this.exited; poll++) {
      const status = await client.checkHealth("", { deadlineMs: 1_000 }).catch((error: Error) => error.message);
      if (status === ServingStatus.SERVING) return;
      last = status;
      await sleep(SERVING_POLL_MS);
    }
    const why = this.exited ? "the server exited" : `not SERVING after ${timeoutMs} ms (last: ${last})`;
    throw new Error(`${why}; its log:\n${this.logTail()}`);
  }

  /** SIGTERM, then SIGKILL if it has not exited within 10 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    const timer = new AbortController();
    const timeout = sleep(STOP_TIMEOUT_MS, "timeout" as const, { signal: timer.signal }).catch(() => "exited" as const);
    const outcome = await Promise.race([exited.then(() => "exited" as const), timeout]);
    timer.abort(); // lets the process exit without waiting for the timer
    if (outcome === "timeout") {
      this.child.kill("SIGKILL");
      await exited;
    }
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }
}

/** A loopback port nothing listens on right now (bound to port 0, then released). */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no TCP port was assigned");
  return address.port;
}
