# Throwaway PostgreSQL cluster for tests and the demo. Source this file, then
# call `pg_throwaway_start [--fsync]`: it sets DATABASE_URL to a fresh cluster
# under target/ listening only on a Unix socket, and registers its removal at
# exit. Needs the machine's initdb and pg_ctl (PostgreSQL 13 or newer).

pg_find_bin() {
  local b
  for b in "$(command -v pg_ctl 2>/dev/null)" /usr/lib/postgresql/*/bin/pg_ctl /usr/local/pgsql/bin/pg_ctl; do
    if [ -n "$b" ] && [ -x "$b" ] && [ -x "$(dirname "$b")/initdb" ]; then
      PG_BIN=$(dirname "$(readlink -f "$b")")
      return 0
    fi
  done
  cat >&2 <<'MSG'
error: PostgreSQL server binaries (initdb, pg_ctl) were not found, and DATABASE_URL is not set.
  Install them, e.g. on Debian/Ubuntu:   sudo apt-get install postgresql
                     on macOS (Homebrew): brew install postgresql@15
  or point the tests at a server you own: export DATABASE_URL=postgres://user@host:5432/postgres
MSG
  return 1
}

# Runs a command as the cluster's owner: initdb refuses to run as root.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=postgres --regid=postgres --clear-groups -- "$@"
  else
    "$@"
  fi
}

pg_throwaway_start() {
  local fsync=off
  [ "${1:-}" = "--fsync" ] && fsync=on
  pg_find_bin || return 1
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  mkdir -p "$root/target"
  PG_DIR=$(mktemp -d "$root/target/pg.XXXXXX")
  chmod 755 "$PG_DIR"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "error: running as root needs a 'postgres' system user to own the cluster (useradd -r postgres)" >&2; return 1; }
    chown postgres "$PG_DIR"
  fi
  if ! pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1; then
    echo "error: initdb failed; see $PG_DIR/initdb.log" >&2
    cat "$PG_DIR/initdb.log" >&2
    return 1
  fi
  if ! pg_as_owner "$PG_BIN/pg_ctl" -w -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
      -o "-c listen_addresses='' -k $PG_DIR -c fsync=$fsync -c max_connections=300 -c shared_buffers=256MB" start >/dev/null; then
    echo "error: PostgreSQL did not start; see $PG_DIR/server.log" >&2
    cat "$PG_DIR/server.log" >&2
    return 1
  fi
  export DATABASE_URL="postgres://postgres@localhost/postgres?host=$PG_DIR"
  export PG_DIR PG_BIN
  trap pg_throwaway_stop EXIT
}

pg_throwaway_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
