#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (Debian's `postgresql`):
#   pg_cluster.sh start DIR PORT   initdb DIR as the postgres user, start it
#                                  on 127.0.0.1:PORT, print the admin URL
#   pg_cluster.sh stop DIR         stop it and remove DIR
#   pg_cluster.sh down DIR         stop the server, keep its data
#   pg_cluster.sh up DIR           start it again (same port)
# Run as root (the server runs as the unprivileged `postgres` user) or as
# an unprivileged user who can write DIR.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-}" in
start)
    dir=$2 port=$3
    mkdir -p "$dir"
    echo "$port" >"$dir/port"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    chmod 700 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U linkledger --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://linkledger@127.0.0.1:$port/postgres"
    ;;
down)
    as_owner "$bin/pg_ctl" -D "$2/data" -m fast -w stop >/dev/null
    ;;
up)
    dir=$2 port=$(cat "$2/port")
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    ;;
stop)
    dir=$2
    if [ -d "$dir/data" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start DIR PORT | stop DIR | down DIR | up DIR" >&2
    exit 2
    ;;
esac
