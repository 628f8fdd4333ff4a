#!/usr/bin/env bash
# Runs every test of devin-mcp: the Rust suites, then third-party clients against the same
# debug build. The Python clients come from .venv (see tests/python/requirements.txt), the
# conformance suite from tests/conformance/node_modules (npm ci there); .ci/run installs both
# on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-.venv/bin/python}"
if ! "$python" -c "import mcp, devin_sdk, jsonschema, pytest" 2>/dev/null; then
    echo "tests/run.sh: the Python test clients are missing; install them with:" >&2
    echo "  python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt" >&2
    exit 1
fi

if [[ ! -x tests/conformance/node_modules/.bin/conformance ]]; then
    echo "tests/run.sh: the MCP conformance suite is missing; install it with:" >&2
    echo "  (cd tests/conformance && npm ci)" >&2
    exit 1
fi

echo "==> cargo build (one debug build for every test)"
cargo build --locked --all-targets
echo "==> Rust tests"
cargo test --locked --all-targets
echo "==> Python clients: the official MCP SDK and the Devin SDK"
DEVIN_MCP_BIN="$PWD/target/debug/devin-mcp" "$python" -m pytest -q tests/python
echo "==> The official MCP conformance suite against devin-mcp http"
tests/conformance/run.sh
echo "==> all tests passed"
