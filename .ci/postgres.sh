#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on a loopback port, run by an unprivileged user.
#
#   .ci/postgres.sh start   installs PostgreSQL from the distribution's packages if missing,
#                           creates and starts a cluster, prints its URL (export it as
#                           ORGSYNC_TEST_DATABASE_URL)
#   .ci/postgres.sh stop    stops the cluster and deletes its data directory
#   .ci/postgres.sh url     prints the URL of a running cluster
#
# Environment: ORGSYNC_PG_DIR (default: /tmp/orgsync-pg-$UID), ORGSYNC_PG_PORT (default 55432),
# ORGSYNC_PG_USER (the OS user that runs the server when started as root; default postgres).
set -euo pipefail

DIR="${ORGSYNC_PG_DIR:-/tmp/orgsync-pg-$(id -u)}"
PORT="${ORGSYNC_PG_PORT:-55432}"
RUN_AS="${ORGSYNC_PG_USER:-postgres}"
DB=orgsync_test
ROLE=orgsync
# A throwaway password for a throwaway cluster on loopback; never printed in errors by the crate.
PASSWORD="${ORGSYNC_PG_PASSWORD:-orgsync-test}"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

bindir() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    local newest
    newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$newest" ] && [ -x "$newest/initdb" ]; then
        echo "$newest"
        return
    fi
    command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)" && return
    return 1
}

install_if_missing() {
    if bindir >/dev/null; then
        return
    fi
    log "PostgreSQL is not installed; installing it from the distribution's packages"
    if [ "$(id -u)" -ne 0 ]; then
        log "not root: install PostgreSQL (apt-get install postgresql) and run again"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
}

# Runs a command as the unprivileged server user when we are root.
as_user() {
    if [ "$(id -u)" -eq 0 ]; then
        if ! id "$RUN_AS" >/dev/null 2>&1; then
            useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS"
        fi
        runuser -u "$RUN_AS" -- "$@"
    else
        "$@"
    fi
}

url() {
    echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
}

start() {
    install_if_missing
    local bin
    bin="$(bindir)"
    if [ -f "$DIR/data/postmaster.pid" ] && as_user "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
        log "already running on port $PORT"
        url
        return
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    if [ "$(id -u)" -eq 0 ]; then
        as_user true # creates the user if needed
        chown "$RUN_AS" "$DIR"
    fi
    local pwfile="$DIR/pw"
    printf '%s\n' "$PASSWORD" >"$pwfile"
    [ "$(id -u)" -eq 0 ] && chown "$RUN_AS" "$pwfile"
    as_user "$bin/initdb" -D "$DIR/data" -U "$ROLE" --pwfile="$pwfile" -A scram-sha-256 \
        --no-sync -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    rm -f "$pwfile"
    # Loopback only, no Unix socket outside the cluster's directory; fast and throwaway.
    as_user "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    PGPASSWORD="$PASSWORD" as_user "$bin/psql" -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d postgres -qAt \
        -c "CREATE DATABASE $DB" >/dev/null
    log "started on 127.0.0.1:$PORT (data in $DIR)"
    url
}

stop() {
    local bin
    bin="$(bindir)" || { log "PostgreSQL is not installed; nothing to stop"; return; }
    if [ -d "$DIR/data" ]; then
        as_user "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$DIR"
        log "stopped and removed $DIR"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    *)
        echo "usage: $0 start|stop|url" >&2
        exit 2
        ;;
esac
