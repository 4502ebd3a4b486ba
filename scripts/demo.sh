#!/usr/bin/env bash
# The demo: a real server on a throwaway PostgreSQL, the Python example agent
# recording into it, the stored trail as a table, verification passing, then
# one stored event edited by a database superuser and verification naming
# the broken link. Then the attack chains alone cannot catch: the superuser
# recomputes every hash after the edit (plain verification passes again),
# and the checkpoints the server published, cosigned by an independent
# witness, name the rewrite; the witness refuses to cosign the rewritten
# tree even when the attacker holds the log's key.
#
#   scripts/demo.sh                 throwaway PostgreSQL under target/ (needs initdb/pg_ctl)
#   DATABASE_URL=... scripts/demo.sh   an existing database you own, as a superuser
#                                   (the demo uses a fresh organisation of its own)
#
# Logs: target/demo/<time>/ (server.log, agent.log, node-agent.log), kept.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
T0=$(date +%s)
step() { printf '\n==> [%3ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
note() { printf '    %s\n' "$*"; }

LOGS="$ROOT/target/demo/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$LOGS"
SERVER_PID=""
WITNESS_PID=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$WITNESS_PID" ]; then kill "$WITNESS_PID" 2>/dev/null; wait "$WITNESS_PID" 2>/dev/null; fi
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if declare -F pg_throwaway_stop >/dev/null; then pg_throwaway_stop; fi
  printf '\n==> cleaned up (server stopped%s); logs in %s\n' \
    "$([ -n "${PG_DIR:-}" ] && echo ', throwaway PostgreSQL removed')" "$LOGS"
  [ $rc -ne 0 ] && printf '    the demo FAILED (exit %s); see the logs above\n' "$rc"
  exit $rc
}
trap cleanup EXIT

step "building the server and the Python package (first run compiles for a few minutes)"
cargo build -q -p sealtrail-server --bins --examples
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/sealtrail"
VENV="$ROOT/target/venv"
if ! "$VENV/bin/python" -c 'import sealtrail' 2>/dev/null; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q .
fi
note "server $BIN, Python package in $VENV ($("$VENV/bin/python" -c 'import sealtrail; print(sealtrail.version())'))"

if [ -z "${DATABASE_URL:-}" ]; then
  step "starting a throwaway PostgreSQL (socket only, under target/)"
  # shellcheck source=lib/pg.sh
  source scripts/lib/pg.sh
  pg_throwaway_start
  trap cleanup EXIT # pg.sh set its own EXIT trap; ours stops the server, then calls pg_throwaway_stop
  note "DATABASE_URL=$DATABASE_URL"
else
  step "using DATABASE_URL from the environment"
fi
export SEALTRAIL_DATABASE_URL="$DATABASE_URL"
psql_su() { psql -X -q -v ON_ERROR_STOP=1 -At "$DATABASE_URL" "$@"; }

step "migrating (sealtrail migrate)"
"$BIN" migrate 2>&1 | sed 's/^/    /'

ORG="demo-$(date +%H%M%S)"
step "creating organisation $ORG and its keys (sealtrail keys create --org $ORG --role ...)"
INGEST_KEY=$("$BIN" keys create --org "$ORG" --role ingest --name demo-agent 2>/dev/null)
OPS_KEY=$("$BIN" keys create --org "$ORG" --role ops --name demo-reader 2>/dev/null)
note "ingest key ${INGEST_KEY:0:12}… (agents: write only)"
note "ops key    ${OPS_KEY:0:12}… (read: query and verify)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
step "the transparency log's keys, and an independent witness (sealtrail log-key generate, sealtrail witness)"
LOG_VKEY=$("$BIN" log-key generate --name demo.sealtrail --out "$LOGS/log.key" 2>/dev/null)
WITNESS_VKEY=$("$BIN" log-key generate --witness --name demo-witness --out "$LOGS/witness.key" 2>/dev/null)
note "log verifier key:     $LOG_VKEY"
note "witness verifier key: $WITNESS_VKEY"
WPORT=$(free_port)
WITNESS="http://127.0.0.1:$WPORT"
"$BIN" witness --listen "127.0.0.1:$WPORT" --key "$LOGS/witness.key" --state "$LOGS/witness-state" \
  --log-key "$LOG_VKEY" >"$LOGS/witness.log" 2>&1 &
WITNESS_PID=$!
for _ in $(seq 1 100); do curl -fs "$WITNESS/" >/dev/null 2>&1 && break; sleep 0.1; done
note "witness on $WITNESS (its state in $LOGS/witness-state, out of the server's reach)"

PORT=$(free_port)
ENDPOINT="http://127.0.0.1:$PORT"
CHECKPOINTS="$LOGS/checkpoints"
step "starting the server on $ENDPOINT (sealtrail serve), publishing checkpoints to $CHECKPOINTS"
SEALTRAIL_LOG=${SEALTRAIL_LOG:-info} "$BIN" serve --listen "127.0.0.1:$PORT" \
  --log-key-file "$LOGS/log.key" --checkpoint-dir "$CHECKPOINTS" --checkpoint-interval 1s \
  --witness "$WITNESS" >"$LOGS/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fs "$ENDPOINT/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited; see $LOGS/server.log"; exit 1; }
  sleep 0.1
done
note "healthz: $(curl -fs "$ENDPOINT/healthz")  readyz: $(curl -fs "$ENDPOINT/readyz")"

step "running the Python example agent (examples/python/agent.py) against the server"
SEALTRAIL_ENDPOINT="$ENDPOINT" SEALTRAIL_API_KEY="$INGEST_KEY" SEALTRAIL_AGENT_ID=support-agent \
SEALTRAIL_SPOOL_DIR="$LOGS/spool-python" \
  "$VENV/bin/python" examples/python/agent.py 2>&1 | tee "$LOGS/agent.log" | cut -c1-150 | sed 's/^/    /'

node_ready() { # the example exists and the package it imports loads (built)
  [ -f examples/node/agent.mjs ] && command -v node >/dev/null &&
    node --input-type=module -e "await import('$ROOT/bindings-node/index.mjs')" >/dev/null 2>&1
}
if node_ready; then
  step "running the Node example agent (examples/node/agent.mjs) against the server"
  SEALTRAIL_ENDPOINT="$ENDPOINT" SEALTRAIL_API_KEY="$INGEST_KEY" SEALTRAIL_AGENT_ID=billing-agent \
  SEALTRAIL_SPOOL_DIR="$LOGS/spool-node" \
    node examples/node/agent.mjs 2>&1 | tee "$LOGS/node-agent.log" | sed 's/^/    /'
else
  step "Node example agent: skipped"
  note "(needs examples/node/agent.mjs and the built package: npm install && npm run build)"
fi

step "the stored trail, per session (GET /v1/events with the ops key)"
python3 tests/e2e/trail_table.py --endpoint "$ENDPOINT" --key "$OPS_KEY"

step "verifying every chain of $ORG (sealtrail verify --org $ORG)"
"$BIN" verify --org "$ORG" 2>"$LOGS/verify.err" | sed 's/^/    /'
note "$(tail -1 "$LOGS/verify.err" | tr -d '\r')"
note "the same over the API: POST /v1/verify ->"
curl -fs -X POST -H "Authorization: Bearer $OPS_KEY" "$ENDPOINT/v1/verify" | sed 's/^/      /'

ORG_ID=$(psql_su -c "SELECT id FROM organizations WHERE name = '$ORG'")
TOTAL=$(psql_su -c "SELECT count(*) FROM audit_events WHERE org_id = '$ORG_ID'")
step "the transparency log: waiting for a checkpoint of all $TOTAL events, cosigned by the witness"
LATEST="$CHECKPOINTS/$ORG_ID/latest"
for _ in $(seq 1 200); do
  if [ -f "$LATEST" ] && [ "$(sed -n 2p "$LATEST")" = "$TOTAL" ] && grep -q "demo-witness" "$LATEST"; then break; fi
  sleep 0.1
done
[ -f "$LATEST" ] || { echo "error: no checkpoint was published; see $LOGS/server.log" >&2; exit 1; }
note "published outside the database as $LATEST:"
sed 's/^/      /' "$LATEST"
CHECK=(--checkpoints "$CHECKPOINTS" --log-key "$LOG_VKEY" --witness-key "$WITNESS_VKEY" --witness-threshold 1)
"$BIN" verify --org "$ORG" "${CHECK[@]}" >/dev/null 2>"$LOGS/verify-log.err"
note "sealtrail verify --org $ORG --checkpoints ... : $(grep '^log:' "$LOGS/verify-log.err")"

step "tampering: as the database superuser, change the refund amount of one stored event"
ROW=$(psql_su -c "SELECT agent_id || '|' || seq || '|' || inputs::text FROM audit_events
                  WHERE org_id = '$ORG_ID' AND type = 'tool_call' AND name = 'issue_refund'
                  ORDER BY ts LIMIT 1")
if [ -z "$ROW" ]; then
  ROW=$(psql_su -c "SELECT agent_id || '|' || seq || '|' || coalesce(inputs::text, 'null') FROM audit_events
                    WHERE org_id = '$ORG_ID' ORDER BY ts LIMIT 1 OFFSET 3")
fi
T_AGENT=${ROW%%|*}; REST=${ROW#*|}; T_SEQ=${REST%%|*}; T_INPUTS=${REST#*|}
note "before: agent $T_AGENT seq $T_SEQ inputs $T_INPUTS"
EDIT="UPDATE audit_events SET inputs = '{}' WHERE org_id = '$ORG_ID' AND agent_id = '$T_AGENT' AND seq = $T_SEQ"
note "as the server's role (sealtrail_app): $(psql_su -c "SET ROLE sealtrail_app; $EDIT" 2>&1 | head -1)"
note "as superuser, trigger on:          $(psql_su -c "$EDIT" 2>&1 | head -1)"
note "as superuser with session_replication_role = replica (triggers off):"
psql_su <<SQL
SET session_replication_role = replica; -- switches off the append-only trigger for this session
UPDATE audit_events
   SET inputs = (CASE WHEN inputs::jsonb ? 'amount' THEN jsonb_set(inputs::jsonb, '{amount}', '"4250.00"')
                      ELSE jsonb_build_object('tampered', true) END)::json
 WHERE org_id = '$ORG_ID' AND agent_id = '$T_AGENT' AND seq = $T_SEQ;
SQL
note "after:  agent $T_AGENT seq $T_SEQ inputs $(psql_su -c "SELECT inputs::text FROM audit_events WHERE org_id = '$ORG_ID' AND agent_id = '$T_AGENT' AND seq = $T_SEQ")"

step "verifying again: the edited link is named"
set +e
"$BIN" verify --org "$ORG" 2>"$LOGS/verify-tampered.err" | sed 's/^/    /'
RC=${PIPESTATUS[0]}
set -e
note "$(tail -1 "$LOGS/verify-tampered.err" | tr -d '\r')"
note "sealtrail verify exit status: $RC (2 = a chain is broken)"
note "the same over the API: GET /v1/chains/$T_AGENT/verify ->"
curl -s -H "Authorization: Bearer $OPS_KEY" "$ENDPOINT/v1/chains/$T_AGENT/verify" | sed 's/^/      /'
if [ "$RC" -ne 2 ]; then
  echo "error: verification did not catch the edit" >&2
  exit 1
fi

step "the recompute attack: the superuser recomputes the edited event's hash, every later link and the head"
note "(anyone holding docs/chain-spec.md can; with the log's private key leaked too, the attacker also"
note " signs a checkpoint of the rewritten tree and asks the witness to cosign it)"
SEALTRAIL_DATABASE_URL="$DATABASE_URL" "$(dirname "$BIN")/examples/rewrite_history" "$ORG" "$T_AGENT" "$T_SEQ" \
  --forge-with "$LOGS/log.key" --witness "$WITNESS" 2>&1 | sed 's/^/    /'
note "the witness recorded its refusal in $LOGS/witness-state/refused.log"

step "plain verification passes: chains alone cannot bind whoever controls the database"
set +e
"$BIN" verify --org "$ORG" 2>"$LOGS/verify-recomputed.err" | sed 's/^/    /'
RC=${PIPESTATUS[0]}
set -e
note "$(tail -1 "$LOGS/verify-recomputed.err" | tr -d '\r'); exit status $RC"
if [ "$RC" -ne 0 ]; then
  echo "error: the recompute attack should pass plain verification" >&2
  exit 1
fi

step "verification against the published checkpoints names the rewrite (sealtrail verify --checkpoints)"
set +e
"$BIN" verify --org "$ORG" "${CHECK[@]}" 2>"$LOGS/verify-rewritten.err" | grep '"log"' | sed 's/^/    /'
RC=${PIPESTATUS[0]}
set -e
grep -E '^(log:|HISTORY)' "$LOGS/verify-rewritten.err" | sed 's/^/    /'
note "sealtrail verify exit status: $RC (3 = history rewritten)"
if [ "$RC" -ne 3 ]; then
  echo "error: checkpoint verification did not catch the recompute attack" >&2
  exit 1
fi
step "done in $(( $(date +%s) - T0 )) s: the trail verified, the edit was caught, and the rewrite that passes chain verification was caught by the published, witnessed checkpoints"
