#!/usr/bin/env bash
# Installs what is missing, builds into build/ and runs every test with ctest. Exits with ctest's
# status. Extra arguments go to ctest, e.g. `scripts/test.sh -R datagen`.
#
# Environment: BUILD_TYPE (default RelWithDebInfo), BUILD_DIR (default build).
set -euo pipefail

cd "$(dirname "$0")/.."
scripts/install-deps.sh

build_dir=${BUILD_DIR:-build}
jobs=$(nproc)
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
cmake --build "$build_dir" -j "$jobs"

status=0
ctest --test-dir "$build_dir" --output-on-failure "$@" || status=$?
exit "$status"
