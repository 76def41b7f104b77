// Where the tests find the repository, the build and the throwaway PostgreSQL. ctest passes
// them (clients/typescript/CMakeLists.txt); `npm test` by hand falls back to the repository's
// default build directory, with the cluster started by `scripts/pg-cluster.sh start build/test-pg`.
import { existsSync } from "node:fs";
import * as path from "node:path";

// npm runs the tests from the package root, clients/typescript.
const sourceDir = process.env.VECMIRROR_SOURCE_DIR ?? path.resolve("../..");
const binaryDir = process.env.VECMIRROR_BINARY_DIR ?? path.join(sourceDir, "build");

export const environment = {
  sourceDir,
  binaryDir,
  pgDir: process.env.VECMIRROR_TEST_PGDIR ?? path.join(binaryDir, "test-pg"),
  serverBinary: process.env.VECMIRROR_SERVER ?? path.join(binaryDir, "src/vecmirror-server"),
  datagenBinary: process.env.VECMIRROR_DATAGEN ?? path.join(binaryDir, "tools/vecmirror-datagen"),
  /** Server logs and query files, kept for a look after a failure. */
  workDir: path.join(binaryDir, "clients/typescript"),
};

export function sourcePath(relative: string): string {
  return path.join(environment.sourceDir, relative);
}

/** Throws, saying how to build it, when a binary the tests run is missing. */
export function requireBinary(file: string): string {
  if (!existsSync(file)) {
    throw new Error(`${file} is missing; build it: cmake --build build --target vecmirror-server vecmirror-datagen`);
  }
  return file;
}
