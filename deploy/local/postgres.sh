#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a loopback port, for tests and for
# running several replicas locally. Uses Debian's postgresql package
# (deploy/local/dev.sh installs it); postgres refuses to run as root, so as
# root the cluster runs as the unprivileged user `postgres`.
#
#   deploy/local/postgres.sh start   initdb (once) + start; prints the URL
#   deploy/local/postgres.sh url     prints the URL of the running cluster
#   deploy/local/postgres.sh stop    stops it and deletes its files
#
# The password lives only in $PTUNE_PG_DIR/pgpass (mode 0600); export
# PGPASSFILE=$PTUNE_PG_DIR/pgpass and libpq reads it, so the URL carries no
# secret.
#
# Environment: PTUNE_PG_DIR (/tmp/ptune-pg-$UID), PTUNE_PG_PORT (54329).
set -euo pipefail

DIR="${PTUNE_PG_DIR:-/tmp/ptune-pg-$(id -u)}"
PORT="${PTUNE_PG_PORT:-54329}"
DB=ptune
USER_NAME=ptune
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"

log() { echo "[postgres.sh] $*" >&2; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgresql://$USER_NAME@127.0.0.1:$PORT/$DB"; }

start() {
  [ -x "$PGBIN/initdb" ] || { log "PostgreSQL is not installed (apt-get install postgresql)"; exit 1; }
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    rm -rf "$DIR"
    mkdir -p "$DIR"
    head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$DIR/password"
    printf '127.0.0.1:%s:*:%s:%s\n' "$PORT" "$USER_NAME" "$(cat "$DIR/password")" > "$DIR/pgpass"
    chmod 600 "$DIR/pgpass" "$DIR/password"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$DIR" "$DIR/password"; fi
    as_owner "$PGBIN/initdb" -D "$DIR/data" -U "$USER_NAME" --pwfile="$DIR/password" \
      --auth=scram-sha-256 --no-sync -E UTF8 >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
    if [ "$(id -u)" -eq 0 ]; then chown root "$DIR/password"; fi
  fi
  if ! as_owner "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    # fsync off: a test cluster trades durability for speed; never do this
    # with data you keep.
    as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/data/server.log" -w -t 60 \
      -o "-p $PORT -k $DIR/data -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" \
      start >/dev/null || { tail -n 30 "$DIR/data/server.log" >&2; exit 1; }
  fi
  export PGPASSFILE="$DIR/pgpass"
  if ! "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" "$DB"
  fi
  log "PostgreSQL on 127.0.0.1:$PORT (PGPASSFILE=$DIR/pgpass)"
  url
}

stop() {
  if [ -f "$DIR/data/PG_VERSION" ]; then
    as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  url) url ;;
  stop) stop ;;
  *) echo "usage: $0 start|url|stop" >&2; exit 2 ;;
esac
