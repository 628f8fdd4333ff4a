#!/usr/bin/env bash
# Runs every test of devin-mcp: the Rust suites, then third-party clients against the same
# debug build. On first run it installs those clients: the Python ones into .venv (from
# tests/python/requirements.txt), the MCP conformance suite into tests/conformance/node_modules
# (npm ci; the suite brings its own Node 22). Needs cargo, python3 with venv, and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-.venv/bin/python}"
if ! "$python" -c "import mcp, devin_sdk, jsonschema, pytest" 2>/dev/null; then
    echo "==> installing the Python test clients into .venv"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
    python=.venv/bin/python
fi
# npm ci writes node_modules/.package-lock.json; a lock file changed since (a new pin) is newer.
conformance=tests/conformance
if [[ ! -x $conformance/node_modules/.bin/conformance ||
      $conformance/package-lock.json -nt $conformance/node_modules/.package-lock.json ]]; then
    echo "==> installing the MCP conformance suite (with its own Node 22)"
    (cd tests/conformance && npm ci --no-audit --no-fund)
fi

echo "==> cargo build (one debug build for every test)"
cargo build --locked --all-targets
echo "==> Rust tests"
cargo test --locked --all-targets
echo "==> Python clients: the official MCP SDK and the Devin SDK"
DEVIN_MCP_BIN="$PWD/target/debug/devin-mcp" "$python" -m pytest -q tests/python
echo "==> The official MCP conformance suite against devin-mcp http"
DEVIN_MCP_BIN="$PWD/target/debug/devin-mcp" tests/conformance/run.sh
echo "==> all tests passed"
