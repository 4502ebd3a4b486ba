#!/usr/bin/env bash
# Runs every test of the project. With DATABASE_URL unset, starts a throwaway
# PostgreSQL cluster under target/ for the server tests and removes it after.
#
#   scripts/test.sh            everything
#   scripts/test.sh rust       one part: rust | vectors | tlog-go | python | node | e2e | demo | redact-bench
#
# Environment: SEALTRAIL_TEST_FULL=1 runs the full-size fault suites.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PARTS=("$@")
[ ${#PARTS[@]} -eq 0 ] && PARTS=(rust vectors tlog-go python node e2e demo redact-bench)

step() { printf '\n==> %s\n' "$*"; }

want() { local p; for p in "${PARTS[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

if [ -z "${DATABASE_URL:-}" ]; then
  # shellcheck source=lib/pg.sh
  source scripts/lib/pg.sh
  step "starting a throwaway PostgreSQL cluster"
  pg_throwaway_start
  echo "DATABASE_URL=$DATABASE_URL"
fi

if want rust; then
  step "Rust: cargo test --workspace"
  cargo test --workspace --locked 2>&1
fi

if want vectors; then
  step "Chain vectors: independent Python verifier (standard library only)"
  python3 tests/python/verify_vectors.py
  # The log layer (docs/chain-spec.md §7), checked the same way: the worked
  # vectors, transparency-dev's proof probes, and the cases core's tlog makes
  # (the file tests/tlog-go reads), remade when missing or older than the code.
  step "Log vectors: independent Python verifier (standard library only, Ed25519 included)"
  cases="${CARGO_TARGET_DIR:-target}/tlog-cases.json"
  if [ ! -s "$cases" ] || [ -n "$(find core/src/tlog core/examples/tlog_cases.rs -newer "$cases" -print -quit)" ]; then
    mkdir -p "$(dirname "$cases")"
    cargo run -q --locked -p sealtrail-core --example tlog_cases > "$cases"
  fi
  python3 tests/python/verify_log.py "$cases"
fi

if want tlog-go; then
  # Go's golang.org/x/mod/sumdb/{note,tlog} check the notes, trees and
  # proofs core's tlog makes (installs golang-go with apt-get when missing).
  step "Transparency log: conformance with Go's sumdb/note and sumdb/tlog"
  bash tests/tlog-go/run.sh
fi

VENV="$ROOT/target/venv"
# The bindings' end-to-end tests and the cross-language check use the real
# server binary and the Python package in $VENV.
export SEALTRAIL_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/sealtrail"
export PYTHON="$VENV/bin/python"
need_server() { [ -x "$SEALTRAIL_BIN" ] || cargo build -q -p sealtrail-server --locked; }

if want python; then
  step "Python package: pip install . into $VENV"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  [ -f bindings-python/requirements-dev.txt ] && "$VENV/bin/python" -m pip install -q -r bindings-python/requirements-dev.txt
  # Tests use a debug build (it shares target/debug with cargo test); the
  # benchmarks install with a plain `pip install .` (release).
  MATURIN_PEP517_ARGS="--profile dev" "$VENV/bin/python" -m pip install -q --force-reinstall --no-deps .
  "$VENV/bin/python" -c "import sealtrail; print('sealtrail', sealtrail.version(), 'imports')"
  if [ -d bindings-python/tests ]; then
    need_server
    "$VENV/bin/python" -m pytest -q bindings-python/tests
  fi
fi

if want node; then
  step "Node package: npm install && npm run build:debug"
  npm install --no-audit --no-fund --loglevel=error
  npm run build:debug
  node -e "const s = require('./'); console.log('sealtrail', s.version(), 'loads')"
  if [ -d bindings-node/test ]; then
    need_server
    npm test
  fi
fi

if want e2e; then
  # Both suites start a throwaway cluster of their own (the fault suite with
  # fsync on) and the real server; the fault suite drives the Python package
  # in target/venv, so the python part (or an earlier run of it) comes first.
  step "End to end: server binary"
  cargo build -q -p sealtrail-server --locked
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sealtrail' 2>/dev/null; then
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q .
  fi
  step "End to end: bad input against the running server"
  python3 tests/e2e/bad_input.py
  step "End to end: fault suite$([ "${SEALTRAIL_TEST_FULL:-}" = 1 ] && echo ' (full sizes)' || echo ' (quick; SEALTRAIL_TEST_FULL=1 for full sizes)')"
  python3 tests/e2e/fault_suite.py
fi

if want demo; then
  # The README's first command, as a user runs it (its own throwaway cluster):
  # it fails unless verification passes and then names the tampered row.
  step "The demo (scripts/demo.sh)"
  env -u DATABASE_URL bash scripts/demo.sh
fi

if want redact-bench; then
  step "Redaction benchmark, quick mode, beside Presidio's pattern recognizers"
  bash scripts/bench-redact.sh --quick
fi

step "all tests passed"
