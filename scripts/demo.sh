#!/usr/bin/env bash
# The vecmirror demo: a throwaway PostgreSQL with synthetic PromptCraft data (3 tenants, three
# embedding models of 384, 1536 and 3072 dimensions), the vecmirror server mirroring it, and a
# few searches with vecmirror-cli, each next to the SQL ground truth.
#
#   scripts/demo.sh            install what is missing, build, start everything, search
#   scripts/demo.sh --fresh    the same, but regenerate the data (drops the demo database)
#   scripts/demo.sh stop       stop the server and PostgreSQL (the data stays in .demo/)
#   scripts/demo.sh clean      stop, then delete .demo/
#
# Running it again reuses the cluster and the data, and restarts the server.
# Everything lives in .demo/: pg/ (the cluster), server.log, server.pid, query vectors.
#
# Environment: VECMIRROR_DEMO_PG_PORT (first PostgreSQL port to try, default 54339),
# VECMIRROR_DEMO_PORT (first gRPC port to try, default 50151), VECMIRROR_DEMO_ENTITIES
# (entities per tenant, default 1000), BUILD_DIR (default build).
set -euo pipefail

cd "$(dirname "$0")/.."
readonly DEMO_DIR=.demo  # relative: the script runs from the project root
readonly PG_DIR=$DEMO_DIR/pg
readonly BUILD=${BUILD_DIR:-build}
readonly DB=vecmirror_demo
readonly SEED=42
readonly MODELS=all-MiniLM-L6-v2:384,text-embedding-3-small:1536,text-embedding-3-large:3072
readonly SERVER_BIN=$BUILD/src/vecmirror-server
readonly CLI_BIN=$BUILD/tools/vecmirror-cli
readonly DATAGEN_BIN=$BUILD/tools/vecmirror-datagen
readonly HEALTH_TIMEOUT_S=180

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

pg() { PGDATABASE=$DB scripts/pg-cluster.sh psql "$PG_DIR" -X -v ON_ERROR_STOP=1 "$@"; }

# The pid in .demo/server.pid, if that process is still our server.
server_pid() {
  [[ -f "$DEMO_DIR/server.pid" ]] || return 1
  local pid
  pid=$(cat "$DEMO_DIR/server.pid")
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q vecmirror-server || return 1
  echo "$pid"
}

stop_server() {
  local pid
  if pid=$(server_pid); then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "demo: the server did not stop in 10 s; killing it" >&2
      kill -KILL "$pid" || true
    fi
    echo "demo: stopped the server (pid $pid)"
  fi
  rm -f "$DEMO_DIR/server.pid"
}

stop_all() {
  stop_server
  if [[ -d "$PG_DIR" ]]; then
    scripts/pg-cluster.sh stop "$PG_DIR"
  fi
}

build() {
  say "Installing missing packages and building into $BUILD/"
  scripts/install-deps.sh
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  local targets=(vecmirror-datagen) available
  available=$(cmake --build "$BUILD" --target help 2>/dev/null || true)
  for target in vecmirror-server vecmirror-cli; do
    if grep -q "$target" <<<"$available"; then targets+=("$target"); fi
  done
  cmake --build "$BUILD" -j "$(nproc)" --target "${targets[@]}"
}

# Drops the demo database with its replication slots (a slot keeps a database from being dropped).
drop_database() {
  scripts/pg-cluster.sh psql "$PG_DIR" -XAq -v ON_ERROR_STOP=1 >/dev/null <<EOF
SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
 WHERE database = '$DB' AND active_pid IS NOT NULL;
SELECT pg_sleep(0.5);
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
 WHERE database = '$DB' AND NOT active;
DROP DATABASE IF EXISTS $DB WITH (FORCE);
EOF
}

prepare_database() {
  local fresh=$1
  say "Starting PostgreSQL in .demo/pg"
  VECMIRROR_PG_PORT=${VECMIRROR_DEMO_PG_PORT:-54339} scripts/pg-cluster.sh start "$PG_DIR" >/dev/null
  PG_PORT=$(cat "$PG_DIR/port")
  DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/$DB"
  echo "PostgreSQL: $DATABASE_URL"

  if [[ $fresh -eq 1 ]]; then
    echo "dropping the old demo database (--fresh)"
    drop_database
  fi
  if [[ -z "$(scripts/pg-cluster.sh psql "$PG_DIR" -XAtc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]]; then
    scripts/pg-cluster.sh psql "$PG_DIR" -XAq -c "CREATE DATABASE $DB"
  fi
  PGOPTIONS="--client-min-messages=warning" pg -q -f sql/schema.sql -f sql/search_similar_entities.sql

  local tenants
  tenants=$(pg -At -c "SELECT count(*) FROM tenant")
  if [[ "$tenants" -gt 0 ]]; then
    echo "reusing the data already loaded ($tenants tenants; --fresh regenerates it)"
  else
    say "Generating demo data"
    "$DATAGEN_BIN" --database-url "$DATABASE_URL" --tenants 3 \
      --entities "${VECMIRROR_DEMO_ENTITIES:-1000}" --models "$MODELS" --seed "$SEED" \
      --bad-rows 0.01 --truncate
  fi
  for model in all-MiniLM-L6-v2 text-embedding-3-small text-embedding-3-large; do
    "$DATAGEN_BIN" --models "$MODELS" --write-query "$DEMO_DIR/query-$model.txt" --model "$model" \
      --seed "$SEED" 2>/dev/null
  done
}

start_server() {
  say "Starting vecmirror-server"
  # ---- THE SERVER: flags of build/src/vecmirror-server ------------------------------------
  if [[ ! -x "$SERVER_BIN" ]]; then
    echo "demo: $SERVER_BIN is not built (yet). PostgreSQL with the demo data is up:"
    echo "  $DATABASE_URL"
    echo "  stop it with: scripts/demo.sh stop"
    exit 1
  fi
  SERVER_PORT=$(scripts/pg-cluster.sh free-port "${VECMIRROR_DEMO_PORT:-50151}")
  # Snapshots in .demo/snapshots: a second run resumes from the one written at stop.
  setsid nohup "$SERVER_BIN" --database-url "$DATABASE_URL" --listen "127.0.0.1:$SERVER_PORT" \
    --snapshot-dir "$DEMO_DIR/snapshots" >"$DEMO_DIR/server.log" 2>&1 </dev/null &
  echo $! >"$DEMO_DIR/server.pid"
  echo "$SERVER_PORT" >"$DEMO_DIR/server.port"
  # ------------------------------------------------------------------------------------------
  echo "pid $(cat "$DEMO_DIR/server.pid"), listening on 127.0.0.1:$SERVER_PORT, log in .demo/server.log"

  echo -n "waiting until it is healthy (initial load done)"
  local waited=0
  # ---- THE CLIENT: health check of build/tools/vecmirror-cli -------------------------------
  until "$CLI_BIN" --server "127.0.0.1:$SERVER_PORT" health >/dev/null 2>&1; do
    if ! server_pid >/dev/null; then
      echo
      tail -n 30 "$DEMO_DIR/server.log" >&2
      die "the server exited (log above, also in .demo/server.log)"
    fi
    if ((waited >= HEALTH_TIMEOUT_S * 2)); then
      echo
      tail -n 30 "$DEMO_DIR/server.log" >&2
      die "the server is not healthy after ${HEALTH_TIMEOUT_S} s (log above)"
    fi
    echo -n "."
    sleep 0.5
    waited=$((waited + 1))
  done
  # ------------------------------------------------------------------------------------------
  echo " healthy"
}

# Runs vecmirror-cli, echoing the command line first.
cli() {
  echo "\$ $CLI_BIN --server 127.0.0.1:$SERVER_PORT $*"
  "$CLI_BIN" --server "127.0.0.1:$SERVER_PORT" "$@" || echo "(vecmirror-cli exited with $?)"
}

ground_truth() {
  local tenant=$1 model=$2 types=$3 limit=$4
  echo "SQL ground truth (vm_search_similar_entities):"
  pg -q -c "SELECT entity_id, entity_type, round(similarity::numeric, 6) AS similarity
    FROM vm_search_similar_entities('$tenant', '$model',
      '{$(paste -sd, "$DEMO_DIR/query-$model.txt")}'::real[], $types, $limit)"
}

run_examples() {
  local tenant entity
  tenant=$(pg -At -c "SELECT id FROM tenant ORDER BY name LIMIT 1")
  entity=$(pg -At -c "SELECT e.id FROM entity e JOIN embedding emb ON emb.entity_id = e.id
    WHERE e.tenant_id = '$tenant' AND e.valid_to IS NULL AND e.deleted_at IS NULL
      AND emb.model = 'text-embedding-3-small' AND emb.status = 'completed'
      AND emb.vector IS NOT NULL ORDER BY e.id LIMIT 1")

  # ---- THE CLIENT: example searches with build/tools/vecmirror-cli -------------------------
  say "Search: tenant $tenant, text-embedding-3-small (1536-d), top 5"
  cli search --tenant "$tenant" --model text-embedding-3-small \
    --vector-file "$DEMO_DIR/query-text-embedding-3-small.txt" --limit 5
  ground_truth "$tenant" text-embedding-3-small NULL 5

  say "Search with a selective filter: templates and libraries only"
  cli search --tenant "$tenant" --model text-embedding-3-small \
    --vector-file "$DEMO_DIR/query-text-embedding-3-small.txt" --types template,library --limit 5
  ground_truth "$tenant" text-embedding-3-small "ARRAY['template','library']" 5

  say "Search: text-embedding-3-large (3072-d, beyond pgvector's 2000-d index limit)"
  cli search --tenant "$tenant" --model text-embedding-3-large \
    --vector-file "$DEMO_DIR/query-text-embedding-3-large.txt" --limit 5

  say "Search: all-MiniLM-L6-v2 (384-d), workflows only"
  cli search --tenant "$tenant" --model all-MiniLM-L6-v2 \
    --vector-file "$DEMO_DIR/query-all-MiniLM-L6-v2.txt" --types workflow --limit 3

  say "More like this: entity $entity"
  cli search --tenant "$tenant" --model text-embedding-3-small --entity-id "$entity" --limit 5

  say "Indexes and mirror status"
  cli indexes
  cli status
  # ------------------------------------------------------------------------------------------
}

print_usage_notes() {
  local tenant
  tenant=$(pg -At -c "SELECT id FROM tenant ORDER BY name LIMIT 1")
  say "The demo is running"
  cat <<EOF
server:      127.0.0.1:$SERVER_PORT (log: .demo/server.log)
PostgreSQL:  $DATABASE_URL
             (psql: scripts/pg-cluster.sh psql .demo/pg -d $DB)

Search:
  $CLI_BIN --server 127.0.0.1:$SERVER_PORT search --tenant $tenant \\
      --model text-embedding-3-small --vector-file .demo/query-text-embedding-3-small.txt \\
      --types context,template --limit 10
Another query vector:
  $DATAGEN_BIN --models $MODELS \\
      --write-query /tmp/q.txt --model text-embedding-3-small --seed $SEED --query-index 7
Change data and watch the mirror follow, e.g.:
  scripts/pg-cluster.sh psql .demo/pg -d $DB -c "UPDATE entity SET deleted_at = now() WHERE id = '...' AND valid_to IS NULL"

Stop everything:     scripts/demo.sh stop
Remove everything:   scripts/demo.sh clean
EOF
}

main() {
  local fresh=0
  case "${1:-}" in
    stop)
      stop_all
      return
      ;;
    clean)
      stop_all
      [[ -d "$PG_DIR" ]] && scripts/pg-cluster.sh destroy "$PG_DIR"
      rm -rf "$DEMO_DIR"
      echo "demo: removed .demo/"
      return
      ;;
    --fresh) fresh=1 ;;
    "" | start) ;;
    *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2 ;;
  esac
  mkdir -p "$DEMO_DIR"
  build
  stop_server  # a server from an earlier run
  prepare_database "$fresh"
  start_server
  run_examples
  print_usage_notes
}

main "$@"
