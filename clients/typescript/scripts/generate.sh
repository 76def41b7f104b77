#!/usr/bin/env bash
# Generates src/generated/ from the repository's proto/ with protoc and ts-proto: the message
# types, their codecs and typed gRPC clients. The gRPC health proto comes from the
# grpc-health-check package, so no proto is ever copied by hand. Run by `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly PROTO_ROOT=../../proto
readonly HEALTH_PROTO_ROOT=node_modules/grpc-health-check/proto
readonly OUT=src/generated

command -v protoc >/dev/null 2>&1 || {
  echo "generate: protoc not found; install Debian's protobuf-compiler (scripts/install-deps.sh does)" >&2
  exit 1
}
[[ -d "$HEALTH_PROTO_ROOT" ]] || { echo "generate: run npm ci first ($HEALTH_PROTO_ROOT is missing)" >&2; exit 1; }

# forceLong=bigint: LSNs and counters are uint64 and pass 2^53.
# stringEnums: enum values read as their proto names ("INDEX_KIND_FLAT") in results and logs.
readonly OPTIONS=outputServices=grpc-js,forceLong=bigint,stringEnums=true,esModuleInterop=true,env=node,outputJsonMethods=false,outputPartialMethods=false

rm -rf "$OUT"
mkdir -p "$OUT"
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$OUT" \
  --ts_proto_opt="$OPTIONS" \
  -I "$PROTO_ROOT" -I "$HEALTH_PROTO_ROOT" \
  vecmirror/v1/vecmirror.proto health/v1/health.proto
