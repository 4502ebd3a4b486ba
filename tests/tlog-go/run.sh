#!/usr/bin/env bash
# Conformance of sealtrail's transparency-log code (core/src/tlog) with Go's
# reference implementation, golang.org/x/mod/sumdb/{note,tlog}: Rust writes
# signed notes, keys, trees, proofs, checkpoints and cosignatures; a Go
# program checks them all. Prints "N passed, 0 failed".
#
# Installs golang-go and golang-golang-x-mod-dev with apt-get when missing
# (needs root). Honours CARGO_TARGET_DIR.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
gopath=/usr/share/gocode

if ! command -v go >/dev/null || [ ! -d "$gopath/src/golang.org/x/mod/sumdb/note" ]; then
    echo "tlog-go: installing golang-go and golang-golang-x-mod-dev" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go golang-golang-x-mod-dev >/dev/null
fi

mkdir -p "$target"
cases="$target/tlog-cases.json"
(cd "$root" && cargo run -q --locked -p sealtrail-core --example tlog_cases > "$cases")

(cd "$root/tests/tlog-go" &&
    GO111MODULE=off GOPATH="$gopath" GOFLAGS= GOCACHE="$target/go-build-cache" \
        go build -o "$target/tlog-go" .)

"$target/tlog-go" "$cases"
