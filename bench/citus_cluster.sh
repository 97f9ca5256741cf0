#!/usr/bin/env bash
# A scratch Citus cluster on loopback for bench/citus.py: a coordinator and N workers, each its own PostgreSQL 18
# from a copy of the embedded wheel's installation with Citus built into it (DEVELOPERS.md says how to build it).
# Only for the benchmark: never run by make or CI.
#
#   PG_HOME=/work/scratch/pg18 bench/citus_cluster.sh start 2 /work/scratch/cluster   # coordinator :9700, workers :9701..
#   PG_HOME=/work/scratch/pg18 bench/citus_cluster.sh stop /work/scratch/cluster
#   export CITUS_URL=postgresql://postgres@127.0.0.1:9700/postgres
#
# PostgreSQL refuses to run as root: as root the servers run as the system user "postgres".
set -euo pipefail

PG_HOME=${PG_HOME:?set PG_HOME to the PostgreSQL installation that has citus.so (see DEVELOPERS.md)}
BIN=$PG_HOME/bin
export LD_LIBRARY_PATH=$PG_HOME/lib  # the wheel's own libpq etc., copied there (DEVELOPERS.md)
PORT=${CITUS_PORT:-9700}
MEMORY=${CITUS_MAINTENANCE_WORK_MEM:-2GB}

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- env LD_LIBRARY_PATH="$LD_LIBRARY_PATH" "$@"; else "$@"; fi
}

psql_on() {  # psql_on PORT SQL
    as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"
}

start() {
    local workers=$1 dir=$2
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    for i in $(seq 0 "$workers"); do
        local node=$dir/node$i port=$((PORT + i))
        if [ ! -d "$node" ]; then
            as_owner "$BIN/initdb" --auth=trust --username=postgres --encoding=UTF8 --locale=C -D "$node" >/dev/null
            as_owner touch "$node/.fresh"
            cat >>"$node/postgresql.conf" <<EOF
shared_preload_libraries = 'citus'
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$node'
max_connections = 300
shared_buffers = 1GB
maintenance_work_mem = '$MEMORY'
max_parallel_maintenance_workers = 1
max_worker_processes = 32
synchronous_commit = off
fsync = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 8GB
EOF
        fi
        [ -f "$node/postmaster.pid" ] || as_owner "$BIN/pg_ctl" -D "$node" -l "$node/server.log" -w start >/dev/null
    done
    # Workers first: once they are registered, the coordinator sends its extension commands to them as well.
    # A node that is already part of the cluster accepts these commands only from the coordinator: fresh ones only.
    for i in $(seq "$workers" -1 0); do
        [ -f "$dir/node$i/.fresh" ] || continue
        psql_on $((PORT + i)) "CREATE EXTENSION IF NOT EXISTS citus; CREATE EXTENSION IF NOT EXISTS vector;"
        rm "$dir/node$i/.fresh"
    done
    psql_on "$PORT" "SELECT citus_set_coordinator_host('127.0.0.1', $PORT);"
    for i in $(seq 1 "$workers"); do
        psql_on "$PORT" "SELECT citus_add_node('127.0.0.1', $((PORT + i))) WHERE NOT EXISTS (
            SELECT 1 FROM pg_dist_node WHERE nodeport = $((PORT + i)));"
    done
    psql_on "$PORT" "SELECT nodename, nodeport, noderole FROM pg_dist_node ORDER BY nodeport;" >&2
    echo "CITUS_URL=postgresql://postgres@127.0.0.1:$PORT/postgres"
}

stop() {
    local dir=$1
    for node in "$dir"/node*; do
        [ -f "$node/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$node" -m fast -w stop >/dev/null || true
    done
}

case ${1:-} in
    start) start "${2:?number of workers}" "${3:?cluster folder}" ;;
    stop) stop "${2:?cluster folder}" ;;
    *) echo "usage: $0 start WORKERS DIR | stop DIR" >&2; exit 2 ;;
esac
