"""The official Python MCP SDK's streamable HTTP client against `devin-mcp http --sim`.

Starts the server on a free port with a bearer token, then runs the core flow (create ->
get_status -> get_structured_output -> list_attachments -> send_message -> terminate) with
both of the SDK's connect modes: `auto` (the 2026-07-28 `server/discover` path) and `legacy`
(the 2025-11-25 `initialize` handshake). Also checks that a wrong token is refused.
"""

import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator

import httpx2
import jsonschema
import pytest
from conftest import BINARY
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

TOKEN = secrets.token_hex(24)


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("http") / "server.log"
    env = {"PATH": os.environ.get("PATH", ""), "RUST_LOG": "info", "DEVIN_MCP_TOKEN": TOKEN}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [BINARY, "http", "--sim", "--listen", "127.0.0.1:0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=tmp_path_factory.getbasetemp(),
        )
    try:
        url = None
        for _ in range(300):
            match = re.search(r"listening on (http://\S+/mcp)", log_path.read_text())
            if match:
                url = match.group(1)
                break
            assert process.poll() is None, log_path.read_text()
            time.sleep(0.05)
        assert url, f"no listening line in: {log_path.read_text()}"
        yield url
        assert TOKEN not in log_path.read_text(), "the token was logged"
    finally:
        process.terminate()
        try:
            status = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # Leave no server behind for the next test run to trip over.
            process.kill()
            process.wait()
            raise
        assert status == 0, "SIGTERM ends the server with status 0"


def transport(url: str, token: str):
    http_client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    return streamable_http_client(url, http_client=http_client)


async def call(client: Client, tools: dict, name: str, arguments: dict) -> dict:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, f"{name} failed: {result.content}"
    structured = result.structured_content
    assert structured is not None, f"{name} returned no structuredContent"
    jsonschema.validate(structured, tools[name].output_schema)
    return structured


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_the_core_flow_runs_over_streamable_http_with_a_token(server_url: str, mode: str) -> None:
    async with Client(transport(server_url, TOKEN), mode=mode) as client:
        listed = await client.list_tools()
        tools = {tool.name: tool for tool in listed.tools}
        created = await call(client, tools, "create_session", {"prompt": "Rename the config module"})
        session_id = created["session_id"]
        assert session_id.startswith("devin-")
        status = await call(client, tools, "get_status", {"session_id": session_id})
        assert status["session_id"] == session_id
        output = await call(client, tools, "get_structured_output", {"session_id": session_id})
        assert output["session_id"] == session_id
        await call(client, tools, "list_attachments", {"session_id": session_id})
        await call(client, tools, "send_message", {"session_id": session_id, "message": "Also update the docs."})
        ended = await call(client, tools, "terminate", {"session_id": session_id})
        assert ended["status"] == "exit"


@pytest.mark.anyio
async def test_a_wrong_token_is_refused_with_401(server_url: str) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            server_url,
            headers={"Authorization": "Bearer not-the-token-0123456789", "Accept": "application/json, text/event-stream"},
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "not-the-token" not in response.text
    with pytest.raises(Exception):
        async with Client(transport(server_url, "not-the-token-0123456789"), mode="legacy") as client:
            await client.list_tools()
