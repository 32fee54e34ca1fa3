#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on a loopback port, run by an unprivileged user,
# with TLS on: a throwaway CA (made here with the openssl CLI, valid two days) signs the
# server's certificate for 127.0.0.1, ::1 and localhost, and TCP clients must use TLS
# (`hostssl` lines only, scram-sha-256, so SCRAM channel binding works).
#
#   .ci/postgres.sh start   installs PostgreSQL (and openssl) from the distribution's packages
#                           if missing, creates and starts a cluster, prints its URL (export it
#                           as ORGSYNC_TEST_DATABASE_URL); the URL names the CA file:
#                           postgres://…@127.0.0.1:PORT/orgsync_test?sslmode=verify-full&sslrootcert=DIR/ca.pem
#   .ci/postgres.sh stop    stops the cluster and deletes its data directory
#   .ci/postgres.sh url     prints the URL of a running cluster
#   .ci/postgres.sh ca      prints the path of the CA certificate of a running cluster
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
    local missing=()
    bindir >/dev/null || missing+=(postgresql)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    if [ "${#missing[@]}" -eq 0 ]; then
        return
    fi
    log "${missing[*]} not installed; installing from the distribution's packages"
    if [ "$(id -u)" -ne 0 ]; then
        log "not root: install ${missing[*]} (apt-get install ${missing[*]}) and run again"
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

# A throwaway CA and a server certificate it signs, for 127.0.0.1, ::1 and localhost (EC P-256,
# ECDSA with SHA-256: what SCRAM channel binding's tls-server-end-point hashes with).
make_certificates() {
    local tls="$DIR/tls"
    mkdir -p "$tls"
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=orgsync throwaway test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$tls/ca.key" -out "$DIR/ca.pem" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
    printf '%s\n' \
        "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" \
        "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" >"$tls/server.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$DIR/ca.pem" -CAkey "$tls/ca.key" \
        -CAcreateserial -days 2 -sha256 -extfile "$tls/server.ext" -out "$tls/server.crt" \
        2>/dev/null
    rm -f "$tls/ca.key" "$tls/server.csr" "$DIR/ca.srl"
    chmod 600 "$tls/server.key"
    chmod 644 "$DIR/ca.pem" "$tls/server.crt"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R "$RUN_AS" "$tls"
    fi
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
    echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB?sslmode=verify-full&sslrootcert=$DIR/ca.pem"
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
    make_certificates
    # TCP only with TLS; the Unix socket (in the cluster's directory) for administration.
    printf '%s\n' \
        "local   all all               scram-sha-256" \
        "hostssl all all 127.0.0.1/32  scram-sha-256" \
        "hostssl all all ::1/128       scram-sha-256" >"$DIR/data/pg_hba.conf"
    [ "$(id -u)" -eq 0 ] && chown "$RUN_AS" "$DIR/data/pg_hba.conf"
    # Loopback only, no Unix socket outside the cluster's directory; fast and throwaway.
    as_user "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$DIR/tls/server.crt -c ssl_key_file=$DIR/tls/server.key" \
        >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    PGPASSWORD="$PASSWORD" as_user "$bin/psql" -h "$DIR" -p "$PORT" -U "$ROLE" -d postgres -qAt \
        -c "CREATE DATABASE $DB" >/dev/null
    log "started on 127.0.0.1:$PORT with TLS (CA $DIR/ca.pem; data in $DIR)"
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
    ca) echo "$DIR/ca.pem" ;;
    *)
        echo "usage: $0 start|stop|url|ca" >&2
        exit 2
        ;;
esac
