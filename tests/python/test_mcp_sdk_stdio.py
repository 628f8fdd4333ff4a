"""The official Python MCP SDK against `devin-mcp --sim` over stdio.

Lists the tools and prompts, checks every inputSchema and outputSchema against the JSON Schema
metaschema, calls every tool and checks each structuredContent against the tool's
outputSchema. The session is waited on until the simulated Devin finishes, so the schemas are
checked against filled-in values: pull requests, structured output, attachments, messages.
Runs with both of the SDK's connect modes: `auto` (probes `server/discover` first) and
`legacy` (`initialize`).
"""

import json
import os

import jsonschema
import pytest
from conftest import BINARY
from mcp import Client, StdioServerParameters

CORE_TOOLS = {
    "create_session",
    "send_message",
    "get_status",
    "get_structured_output",
    "list_attachments",
    "terminate",
}
REPORT_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "files_changed": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["summary", "files_changed"],
}


def server() -> StdioServerParameters:
    env = {"PATH": os.environ.get("PATH", ""), "RUST_LOG": "warn"}
    return StdioServerParameters(command=BINARY, args=["--sim"], env=env)


def check_schema(schema: dict) -> None:
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator.check_schema(schema)


async def call(client: Client, tools: dict, name: str, arguments: dict) -> dict:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, f"{name} failed: {result.content}"
    structured = result.structured_content
    assert structured is not None, f"{name} returned no structuredContent"
    jsonschema.validate(structured, tools[name].output_schema)
    text = result.content[0].text
    assert json.loads(text) == structured, "the text block repeats the structured content"
    return structured


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_every_tool_validates_against_its_schemas(mode: str) -> None:
    async with Client(server(), mode=mode) as client:
        assert client.server_info is not None and client.server_info.name == "devin-mcp"
        listed = await client.list_tools()
        tools = {tool.name: tool for tool in listed.tools}
        assert CORE_TOOLS | {"wait_for_sessions", "create_sessions"} == set(tools), sorted(tools)
        for tool in tools.values():
            check_schema(tool.input_schema)
            assert tool.output_schema is not None, tool.name
            check_schema(tool.output_schema)
        prompts = await client.list_prompts()
        assert {prompt.name for prompt in prompts.prompts} == {"delegate", "fan_out", "check_session"}

        created = await call(
            client,
            tools,
            "create_session",
            {
                "prompt": "Rename the config module",
                "repos": ["acme/api"],
                "structured_output_schema": REPORT_SCHEMA,
            },
        )
        session_id = created["session_id"]
        assert session_id.startswith("devin-")

        waited = await call(
            client, tools, "wait_for_sessions", {"session_ids": [session_id], "timeout_seconds": 120}
        )
        assert waited["timed_out"] is False, waited
        settled = waited["sessions"][0]
        assert settled["is_finished"] is True, settled
        assert settled["new_messages"], "Devin's messages during the wait are returned"

        status = await call(client, tools, "get_status", {"session_id": session_id})
        assert status["session_id"] == session_id
        assert status["pull_requests"], "a session with repos opened a pull request"
        output = await call(client, tools, "get_structured_output", {"session_id": session_id})
        jsonschema.validate(output["structured_output"], REPORT_SCHEMA)
        attachments = await call(client, tools, "list_attachments", {"session_id": session_id})
        assert attachments["attachments"], "Devin produced an attachment"
        await call(
            client, tools, "send_message", {"session_id": session_id, "message": "Keep the old name as an alias."}
        )
        ended = await call(client, tools, "terminate", {"session_id": session_id, "archive": True})
        assert ended["status"] == "exit"

        batch = await call(
            client, tools, "create_sessions", {"prompts": ["Task one", "Task two"], "defaults": {"tags": ["py"]}}
        )
        assert batch["created"] == 2, batch
        for item in batch["sessions"]:
            await call(client, tools, "terminate", {"session_id": item["session_id"]})

        bad = await client.call_tool("get_status", {"session_id": "not a session"})
        assert bad.is_error
        assert "devin-<id>" in bad.content[0].text
