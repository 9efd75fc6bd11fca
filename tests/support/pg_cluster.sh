#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (Debian's `postgresql`):
#   pg_cluster.sh start DIR PORT   initdb DIR as the postgres user, start it
#                                  on 127.0.0.1:PORT, print the admin URL
#   pg_cluster.sh stop DIR         stop it and remove DIR
#   pg_cluster.sh down DIR         stop the server, keep its data
#   pg_cluster.sh up DIR           start it again (same port)
# PG_LISTEN (default 127.0.0.1): the addresses it listens on; PG_NETNS: a
# network namespace to run it in (a lab's database host). Both are kept in
# DIR for `up`. Its socket is in DIR, reachable from any namespace.
# Run as root (the server runs as the unprivileged `postgres` user) or as
# an unprivileged user who can write DIR.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
# pg_ctl start, in the cluster's namespace when it has one.
server_start() {
    local dir=$1 port listen netns
    port=$(cat "$dir/port") listen=$(cat "$dir/listen") netns=$(cat "$dir/netns")
    local in=()
    [ -n "$netns" ] && in=(ip netns exec "$netns")
    if [ "$(id -u)" = 0 ]; then
        "${in[@]}" runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=$listen -p $port -k $dir -c max_connections=200" start >/dev/null
    else
        "${in[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=$listen -p $port -k $dir -c max_connections=200" start >/dev/null
    fi
}
case "${1:-}" in
start)
    dir=$2 port=$3
    mkdir -p "$dir"
    echo "$port" >"$dir/port"
    echo "${PG_LISTEN:-127.0.0.1}" >"$dir/listen"
    echo "${PG_NETNS:-}" >"$dir/netns"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    chmod 700 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U linkledger --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # Every client may connect: a lab's daemons come from its monitor.
    [ -n "${PG_NETNS:-}" ] && echo "host all all 198.18.0.0/15 trust" >>"$dir/data/pg_hba.conf"
    server_start "$dir" || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://linkledger@${PG_LISTEN:-127.0.0.1}:$port/postgres" | sed 's/@\([^,:]*\),[^:]*:/@\1:/'
    ;;
down)
    as_owner "$bin/pg_ctl" -D "$2/data" -m fast -w stop >/dev/null
    ;;
up)
    server_start "$2" || { cat "$2/server.log" >&2; exit 1; }
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
