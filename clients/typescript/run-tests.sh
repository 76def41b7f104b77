#!/usr/bin/env bash
# Runs the TypeScript client's tests with node's test runner against the real vecmirror-server
# and PostgreSQL. ctest runs it as typescript_client_test with the pg_cluster fixture and the
# paths in its environment (CMakeLists.txt beside this file); by hand, start the cluster with
# `scripts/pg-cluster.sh start build/test-pg` and run it from anywhere.
#
# Installs the locked dependencies with `npm ci` (from package-lock.json, which also builds the
# package) unless node_modules already holds exactly that lockfile, then `npm test` builds the
# package and the tests and runs them.
set -euo pipefail
cd "$(dirname "$0")"

die() { echo "typescript_client_test: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node is not installed; scripts/install-deps.sh installs it"
command -v npm >/dev/null 2>&1 || die "npm is not installed; scripts/install-deps.sh installs it"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 18)) || die "node $(node --version) is too old: the tests need node:test, from Node 18 on"

# npm ci starts by deleting node_modules: skip it while the installed tree is the locked one.
stamp=node_modules/.vecmirror-lockfile.sha256
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]]; then
  npm ci --no-audit --no-fund
  echo "$lock_hash" >"$stamp"
fi
npm test
