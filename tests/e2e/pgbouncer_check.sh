#!/usr/bin/env bash
# The real server behind PgBouncer: a throwaway cluster, PgBouncer in front
# of it (pool mode as the argument), the server logged in as a restricted
# role (SEALTRAIL_DB_ROLE="", no SET ROLE), the Python example agent, then
# verify and a query. Not part of scripts/test.sh: PgBouncer is not a
# project requirement. Needs `pgbouncer` on PATH and target/venv.
#
#   tests/e2e/pgbouncer_check.sh transaction|session
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
MODE=${1:-transaction}
command -v pgbouncer >/dev/null || { echo "pgbouncer not installed; skipped"; exit 0; }
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/sealtrail"
# shellcheck source=../../scripts/lib/pg.sh
source scripts/lib/pg.sh
pg_throwaway_start || exit 1
D="$PG_DIR/pgbouncer"
SPID=""
done_() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
  [ -f "$D/pgbouncer.pid" ] && kill "$(cat "$D/pgbouncer.pid")" 2>/dev/null
  sleep 0.3
  pg_throwaway_stop
}
trap done_ EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

export SEALTRAIL_DATABASE_URL="$DATABASE_URL"
"$BIN" migrate >/dev/null
psql -X -q -At "$DATABASE_URL" -c "CREATE ROLE sealtrail_server LOGIN IN ROLE sealtrail_app"
mkdir -p "$D"
PORT=$(free_port)
cat >"$D/pgbouncer.ini" <<INI
[databases]
postgres = host=$PG_DIR dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = trust
auth_file = $D/userlist.txt
pool_mode = $MODE
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = $D/pgbouncer.log
pidfile = $D/pgbouncer.pid
INI
printf '"postgres" ""\n"sealtrail_server" ""\n' >"$D/userlist.txt"
[ "$(id -u)" = 0 ] && chown -R postgres "$D"
pg_as_owner pgbouncer -d "$D/pgbouncer.ini" || exit 1
sleep 0.5
echo "$(pgbouncer --version | head -1), pool_mode = $MODE"

SP=$(free_port)
SEALTRAIL_DB_ROLE="" SEALTRAIL_DATABASE_URL="postgres://sealtrail_server@127.0.0.1:$PORT/postgres?sslmode=disable" \
  "$BIN" serve --no-migrate --listen "127.0.0.1:$SP" >"$D/server.log" 2>&1 &
SPID=$!
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$SP/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
if ! kill -0 "$SPID" 2>/dev/null; then
  echo "FAIL: the server exited at start: $(grep -m1 '^Error' "$D/server.log")"
  exit 1
fi
K=$("$BIN" keys create --org pgb --role ingest 2>/dev/null)
O=$("$BIN" keys create --org pgb --role ops 2>/dev/null)
SEALTRAIL_ENDPOINT="http://127.0.0.1:$SP" SEALTRAIL_API_KEY="$K" SEALTRAIL_AGENT_ID=pgb-agent \
SEALTRAIL_SPOOL_DIR="$D/spool" timeout 60 target/venv/bin/python examples/python/agent.py 2>&1 | grep -o "flush: {[^}]*}"
V=$(curl -s -X POST -H "Authorization: Bearer $O" "http://127.0.0.1:$SP/v1/verify" | tail -1)
N=$(curl -s -H "Authorization: Bearer $O" "http://127.0.0.1:$SP/v1/events?limit=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))')
echo "verify: $V; query: $N events"
case "$V" in *'"ok":true'*) [ "$N" = 26 ] && { echo PASS; exit 0; } ;; esac
echo FAIL; exit 1
