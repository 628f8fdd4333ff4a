"""Contract test: the vendor's own Python SDK (`devinai`, import `devin_sdk`) decodes the
simulator's responses.

The SDK is built with strict response validation, so any field of the wrong type, a missing
required field or an enum value the SDK does not know fails the test. It covers create, get,
list, messages, send, attachments, terminate and archive against `devin-mcp sim`.
"""

import time

import pytest
from conftest import Sim
from devin_sdk import DevinSDK


@pytest.fixture()
def sdk(sim: Sim) -> DevinSDK:
    return DevinSDK(api_key=sim.api_key, base_url=sim.base_url, _strict_response_validation=True, max_retries=0)


def test_sessions_decode_through_their_whole_life(sim: Sim, sdk: DevinSDK) -> None:
    sessions = sdk.organizations.sessions
    created = sessions.create(
        sim.org_id,
        prompt="Fix the flaky test in tests/test_api.py",
        title="Fix flaky test",
        tags=["ci", "contract"],
        repos=["acme/api"],
        max_acu_limit=10,
        structured_output_schema={
            "type": "object",
            "properties": {"status": {"type": "string"}},
            "required": ["status"],
        },
        session_secrets=[{"key": "API_TOKEN", "value": "s3cr3t", "sensitive": True}],
    )
    assert created.status == "new"
    assert created.session_id.startswith("devin-")
    devin_id = created.session_id

    fetched = sessions.retrieve(devin_id, org_id=sim.org_id)
    assert fetched.session_id == devin_id

    # Let the session run to the end on the simulator's real-time clock, so that every field
    # the lifecycle fills in is decoded too.
    for _ in range(120):
        fetched = sessions.retrieve(devin_id, org_id=sim.org_id)
        if fetched.status_detail == "finished":
            break
        time.sleep(0.5)
    assert fetched.status == "running"
    assert fetched.status_detail == "finished", fetched.status_detail
    assert fetched.structured_output is not None
    assert fetched.pull_requests, "a session with repos opened a pull request"

    page = sessions.list(sim.org_id, tags=["contract"], first=10)
    assert [item.session_id for item in page.items] == [devin_id]

    messages = sessions.messages.list(devin_id, org_id=sim.org_id)
    assert messages.items[0].source == "user"
    assert any(message.source == "devin" for message in messages.items)

    sent = sessions.messages.send(devin_id, org_id=sim.org_id, message="Also add a regression test.")
    assert sent.session_id == devin_id

    attachments = sessions.list_attachments(devin_id, org_id=sim.org_id)
    assert attachments, "Devin produced an attachment"
    assert attachments[0].source in ("devin", "user")

    archived = sessions.archive(devin_id, org_id=sim.org_id)
    assert archived.is_archived is True

    ended = sessions.terminate(devin_id, org_id=sim.org_id, archive=True)
    assert ended.status == "exit"


def test_uploads_decode(sim: Sim, sdk: DevinSDK) -> None:
    uploaded = sdk.organizations.attachments.upload(sim.org_id, file=("notes.txt", b"hello", "text/plain"))
    assert uploaded.name == "notes.txt"
    assert uploaded.url.endswith("/notes.txt")


def test_errors_are_the_sdks_own_exceptions(sim: Sim, sdk: DevinSDK) -> None:
    import devin_sdk

    with pytest.raises(devin_sdk.NotFoundError):
        sdk.organizations.sessions.retrieve("devin-0123456789abcdef0123456789abcdef", org_id=sim.org_id)
    bad_key = DevinSDK(api_key="cog_not_valid", base_url=sim.base_url, max_retries=0)
    with pytest.raises(devin_sdk.AuthenticationError):
        bad_key.organizations.sessions.list(sim.org_id)
