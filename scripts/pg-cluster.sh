#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and the demo: logical replication on, trust
# authentication, listening on 127.0.0.1 only, fsync off. Never use it for data you want to keep.
#
#   scripts/pg-cluster.sh start   DIR     initdb if needed, start, write DIR/conninfo and DIR/port
#   scripts/pg-cluster.sh stop    DIR     stop (fast, then immediate); no-op when not running
#   scripts/pg-cluster.sh status  DIR     exit 0 and print the conninfo when running, else exit 3
#   scripts/pg-cluster.sh psql    DIR [psql args...]   psql connected to it (database postgres
#                                         unless -d or PGDATABASE says otherwise)
#   scripts/pg-cluster.sh clean   DIR     drop every replication slot and every database whose
#                                         name starts with vmtest_ (leftovers of killed tests)
#   scripts/pg-cluster.sh destroy DIR     stop and delete everything
#   scripts/pg-cluster.sh free-port PORT  print the first port from PORT up that nothing listens
#                                         on (the demo picks its server's port with it)
#
# Environment:
#   VECMIRROR_PG_PORT  first port to try (default 54329); the next free one above it is used
#   VECMIRROR_PG_BIN   PostgreSQL's bin directory (default /usr/lib/postgresql/15/bin)
#
# As root, the server runs as the OS user `postgres` (initdb refuses root). When that user can't
# reach DIR (say, a checkout under a mode-700 home), the data lives in a directory under /tmp,
# linked from DIR/data and recorded in DIR/datadir.
set -euo pipefail

readonly DEFAULT_PORT=54329
readonly MAX_START_ATTEMPTS=20
readonly TEST_DB_PREFIX=vmtest_

die() { echo "pg-cluster: $*" >&2; exit 1; }
note() { echo "pg-cluster: $*" >&2; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

find_pg_bin() {
  if [[ -n "${VECMIRROR_PG_BIN:-}" ]]; then
    echo "$VECMIRROR_PG_BIN"
    return
  fi
  if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
    echo /usr/lib/postgresql/15/bin
    return
  fi
  # Another major version is fine too: the tests need 10+ (pgoutput), nothing newer.
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n "$newest" && -x "$newest/initdb" ]] ||
    die "PostgreSQL server binaries not found; install the Debian package 'postgresql' or set VECMIRROR_PG_BIN"
  echo "$newest"
}

# Runs a command as the OS user that owns the cluster. From / because initdb and pg_ctl look up
# the current directory, which the postgres user may not be allowed to see.
if [[ $(id -u) -eq 0 ]]; then
  RUN_AS_ROOT=1
  as_owner() { (cd / && runuser -u postgres -- "$@"); }
else
  RUN_AS_ROOT=0
  as_owner() { (cd / && "$@"); }
fi

# The data directory: DIR/data, or what DIR/datadir names when the data had to move to /tmp.
data_dir() {
  if [[ -f "$DIR/datadir" ]]; then
    cat "$DIR/datadir"
  else
    echo "$DIR/data"
  fi
}

is_initialized() { [[ -f "$(data_dir)/PG_VERSION" ]]; }

is_running() {
  is_initialized || return 1
  as_owner "$PG_BIN/pg_ctl" -D "$(data_dir)" status >/dev/null 2>&1
}

# The port of the running server, from its postmaster.pid (line 4).
running_port() {
  as_owner sed -n 4p "$(data_dir)/postmaster.pid"
}

port_busy() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]]
    return
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

first_free_port() {
  local port=$1
  while port_busy "$port"; do port=$((port + 1)); done
  echo "$port"
}

write_conninfo() {
  local port=$1
  echo "host=127.0.0.1 port=$port user=postgres dbname=postgres" >"$DIR/conninfo"
  echo "$port" >"$DIR/port"
}

# Decides where the data, the socket and the log live, and makes them the owner's.
prepare_layout() {
  mkdir -p "$DIR"
  if [[ -f "$DIR/datadir" ]]; then
    local recorded
    recorded=$(cat "$DIR/datadir")
    if [[ -d "$(dirname "$recorded")" ]]; then
      return
    fi
    note "the data directory $recorded is gone (a reboot cleans /tmp); starting afresh"
    rm -f "$DIR/datadir" "$DIR/data" "$DIR/server.log"
  fi
  [[ $RUN_AS_ROOT -eq 1 ]] || return 0

  id postgres >/dev/null 2>&1 ||
    die "running as root needs the OS user 'postgres' (the Debian package 'postgresql' creates it)"
  chown postgres: "$DIR"
  if runuser -u postgres -- test -w "$DIR" -a -x "$DIR" 2>/dev/null; then
    return
  fi
  local tmp
  tmp=$(mktemp -d /tmp/vecmirror-pg.XXXXXX)
  chown postgres: "$tmp"
  note "user postgres cannot reach $DIR (a parent directory is closed to it); keeping the data in $tmp, linked from $DIR/data"
  echo "$tmp/data" >"$DIR/datadir"
  ln -sfn "$tmp/data" "$DIR/data"
  ln -sfn "$tmp/server.log" "$DIR/server.log"
}

# The directory for the server's socket and log: DIR, or the /tmp directory holding the data.
state_dir() {
  dirname "$(data_dir)"
}

init_cluster() {
  is_initialized && return
  local data
  data=$(data_dir)
  if ! as_owner "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C \
      >"$DIR/initdb.log" 2>&1; then
    cat "$DIR/initdb.log" >&2
    die "initdb failed (log above, also in $DIR/initdb.log)"
  fi
  # Our settings live in their own file, included last so they win.
  echo "include_if_exists = 'vecmirror.conf'" | as_owner tee -a "$data/postgresql.conf" >/dev/null
}

write_settings() {
  local port=$1 sockets
  sockets=$(state_dir)
  # A Unix socket path is limited to 107 bytes; clients here use TCP, so drop the socket then.
  if (( ${#sockets} > 90 )); then
    sockets=""
  fi
  as_owner tee "$(data_dir)/vecmirror.conf" >/dev/null <<EOF
# Written by scripts/pg-cluster.sh on every start.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockets'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
wal_sender_timeout = 20s
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 256MB
max_connections = 100
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

start_cluster() {
  if is_running; then
    local port
    port=$(running_port)
    write_conninfo "$port"
    note "already running on port $port"
    cat "$DIR/conninfo"
    return
  fi
  prepare_layout
  init_cluster

  local port=${VECMIRROR_PG_PORT:-$DEFAULT_PORT}
  if [[ -f "$DIR/port" ]] && ! port_busy "$(cat "$DIR/port")"; then
    port=$(cat "$DIR/port")   # keep the address stable across restarts
  fi
  local log
  log="$(state_dir)/server.log"
  local attempt
  for ((attempt = 1; attempt <= MAX_START_ATTEMPTS; attempt++)); do
    port=$(first_free_port "$port")
    write_settings "$port"
    local log_size=0
    [[ -f "$log" ]] && log_size=$(stat -c %s "$log")
    if as_owner "$PG_BIN/pg_ctl" -D "$(data_dir)" -l "$log" -w -t 60 start >/dev/null 2>&1; then
      break
    fi
    # Another process may have taken the port between the check and the bind: try the next.
    if tail -c +"$((log_size + 1))" "$log" 2>/dev/null | grep -q "could not bind\|Address already in use"; then
      note "port $port was taken meanwhile; trying the next one"
      port=$((port + 1))
      continue
    fi
    tail -n 30 "$log" >&2 || true
    die "the server did not start (log above, also in $log)"
  done
  ((attempt <= MAX_START_ATTEMPTS)) || die "no free port found from ${VECMIRROR_PG_PORT:-$DEFAULT_PORT} on"

  write_conninfo "$port"
  local wal_level
  wal_level=$(run_psql -XAtc "show wal_level")
  [[ "$wal_level" == logical ]] || die "the server runs with wal_level=$wal_level, not logical"
  note "running on 127.0.0.1:$port, data in $(data_dir), log in $log"
  cat "$DIR/conninfo"
}

stop_cluster() {
  if ! is_running; then
    note "not running"
    return
  fi
  local data
  data=$(data_dir)
  if ! as_owner "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1; then
    note "fast shutdown did not finish; shutting down immediately"
    as_owner "$PG_BIN/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null
  fi
  note "stopped"
}

status_cluster() {
  if is_running; then
    note "running on port $(running_port)"
    cat "$DIR/conninfo"
    return 0
  fi
  note "not running"
  return 3
}

run_psql() {
  PGHOST=127.0.0.1 PGPORT="$(cat "$DIR/port")" PGUSER=postgres \
    PGDATABASE="${PGDATABASE:-postgres}" "$PG_BIN/psql" "$@"
}

clean_cluster() {
  is_running || die "not running; start it first"
  run_psql -XAq -v ON_ERROR_STOP=1 >/dev/null <<'EOF'
SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active_pid IS NOT NULL;
SELECT pg_sleep(0.2);
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active;
EOF
  local db
  for db in $(run_psql -XAtc "SELECT datname FROM pg_database WHERE datname LIKE '${TEST_DB_PREFIX}%'"); do
    run_psql -XAq -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
  done
}

destroy_cluster() {
  stop_cluster
  if [[ -f "$DIR/datadir" ]]; then
    local tmp
    tmp=$(dirname "$(cat "$DIR/datadir")")
    [[ "$tmp" == /tmp/vecmirror-pg.* ]] && rm -rf "$tmp"
  fi
  rm -rf "$DIR"
  note "removed $DIR"
}

[[ $# -ge 2 ]] || usage
if [[ "$1" == free-port ]]; then
  [[ $# -eq 2 && "$2" =~ ^[0-9]+$ ]] || usage
  first_free_port "$2"
  exit 0
fi
COMMAND=$1
DIR=$2
shift 2
[[ "$COMMAND" == start ]] && mkdir -p "$DIR"
DIR=$(realpath -m "$DIR")
PG_BIN=$(find_pg_bin)

case "$COMMAND" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  status) status_cluster ;;
  psql)
    is_running || die "not running; start it with: $0 start $DIR"
    run_psql "$@"
    ;;
  clean) clean_cluster ;;
  destroy) destroy_cluster ;;
  *) usage ;;
esac
