#!/usr/bin/env bash
# The demo: an agent records events, they are chained, verification passes,
# and a tampered record is caught.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }

step "building the core (first run compiles for a minute)"
cargo build -q -p sealtrail-core --example chain_demo
step "a scripted support agent's events, chained and verified, then one edited"
cargo run -q -p sealtrail-core --example chain_demo
step "the same spec checked by an independent Python verifier"
python3 tests/python/verify_vectors.py | tail -4
