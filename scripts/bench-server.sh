#!/usr/bin/env bash
# Server benchmarks against a PostgreSQL with fsync on (default: the machine's
# cluster on 127.0.0.1:5432). Each makes its own databases
# (sealtrail_bench_ingest, sealtrail_bench_copy, sealtrail_bench_query).
#   BENCH_DATABASE_URL   superuser URL (postgres://postgres@127.0.0.1:5432/postgres)
#   BENCH_CLIENTS, BENCH_BATCHES   ingest load (8 clients x 25 batches x 500 events)
#   BENCH_EVENTS, BENCH_AGENTS     query load (1,000,000 over 200 agents)
#   BENCH_SEARCH_WORDS             words indexed per event in the ingest run (16)
#   BENCH_REUSE=1                  keep an already loaded query database
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p sealtrail-server --bench validate # the server's CPU per event before the database
cargo bench -p sealtrail-server --bench ingest
cargo bench -p sealtrail-server --bench verify   # on the database the ingest run leaves
cargo bench -p sealtrail-server --bench query
cargo bench -p sealtrail-server --bench log      # the transparency log: ingest on ÷ off, lag, verify --checkpoints, proofs at 1M
