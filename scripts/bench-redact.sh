#!/usr/bin/env bash
# Redaction benchmark and Presidio comparison (issue 3).
#
#   scripts/bench-redact.sh           full corpus, full criterion run
#   scripts/bench-redact.sh --quick   small corpus and short runs (CI)
#
# Makes a venv with presidio-analyzer under target/presidio-venv (PyPI only; no
# spaCy model is downloaded: the comparison calls Presidio's pattern
# recognizers directly), builds the `redact_corpus` example in release, runs
# the criterion benchmark, then tests/redaction/presidio_compare.py.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=""
if [[ "${1:-}" == "--quick" ]]; then quick="--quick"; fi

target="${CARGO_TARGET_DIR:-target}"
venv="$target/presidio-venv"
if ! "$venv/bin/python" -c 'import presidio_analyzer' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check presidio-analyzer
fi

cargo build --release -q -p sealtrail-core --example redact_corpus
bin="$target/release/examples/redact_corpus"

log="$target/redact-bench/criterion.log"
mkdir -p "$(dirname "$log")"
if [[ -n "$quick" ]]; then export REDACT_BENCH_QUICK=1; fi
if ! cargo bench -q -p sealtrail-core --bench redact > "$log" 2>&1; then
    cat "$log"
    echo "benchmark failed" >&2
    exit 1
fi
grep -E "MB/s|µs|time:|thrpt:|^redact/" "$log" | grep -v "change:" || true
echo
"$venv/bin/python" tests/redaction/presidio_compare.py $quick --bin "$bin"
