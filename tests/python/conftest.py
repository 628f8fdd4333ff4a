"""Shared by the third-party client tests: the `devin-mcp` binary under test, and the
standalone simulator (`devin-mcp sim`)."""

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("DEVIN_MCP_BIN", str(ROOT / "target" / "debug" / "devin-mcp"))


class Sim:
    """A running `devin-mcp sim`: where it listens, its demo key and its org."""

    def __init__(self, base_url: str, api_key: str, org_id: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.org_id = org_id


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    process = subprocess.Popen(
        [BINARY, "sim", "--listen", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "RUST_LOG": "warn"},
    )
    found: dict[str, str] = {}
    deadline = time.monotonic() + 30
    assert process.stderr is not None
    patterns = (("base", r"base URL:\s*(\S+)"), ("key", r"API key:\s*(\S+)"), ("org", r"org id:\s*(\S+)"))
    while len(found) < 3 and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        for key, pattern in patterns:
            match = re.search(pattern, line)
            if match:
                found[key] = match.group(1)
    assert len(found) == 3, f"the simulator did not announce itself: {found}"
    try:
        yield Sim(found["base"], found["key"], found["org"])
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
