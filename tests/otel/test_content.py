"""Content capture: off by default, opt-in as the spec's JSON attributes, secrets never kept."""

from __future__ import annotations

import json

import pytest

from spine_core import Agent, Message, ScriptedProvider, ToolCall, tool

from .conftest import Telemetry

pytestmark = pytest.mark.anyio

FAKE_KEY = "sk-test-0123456789abcdefSECRET"


@tool
def login(token: str) -> str:
    """Log in.

    Args:
        token: The credential.
    """
    return f"logged in with {token}"


def _agent(telemetry: Telemetry, **options: object) -> Agent:
    call = ToolCall(id="c1", name="login", arguments={"token": FAKE_KEY})
    provider = ScriptedProvider([Message.assistant(tool_calls=[call]), "done"], model="m")
    return Agent(
        provider,
        name="a",
        system="You are terse.",
        tools=[login],
        middleware=[telemetry.middleware(**options)],  # type: ignore[arg-type]
        settings={"api_key": FAKE_KEY, "temperature": 0.5},
    )


def _everything(telemetry: Telemetry) -> str:
    """Every exported span as text: names, attributes, events, status."""
    return "\n".join(span.to_json() for span in telemetry.spans())


async def test_content_is_not_recorded_by_default(telemetry: Telemetry) -> None:
    await _agent(telemetry).run(f"my key is {FAKE_KEY}")
    dump = _everything(telemetry)
    assert "gen_ai.input.messages" not in dump and "gen_ai.tool.call.arguments" not in dump
    assert "terse" not in dump
    assert "SECRET" not in dump


async def test_opt_in_capture_records_the_spec_attributes(telemetry: Telemetry) -> None:
    await _agent(telemetry, capture_content=True).run("hello there")
    first, _ = telemetry.named("chat m")
    assert first.attributes is not None
    assert json.loads(str(first.attributes["gen_ai.system_instructions"])) == [
        {"type": "text", "content": "You are terse."}
    ]
    assert json.loads(str(first.attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "hello there"}]}
    ]
    (definition,) = json.loads(str(first.attributes["gen_ai.tool.definitions"]))
    assert definition["type"] == "function" and definition["name"] == "login"
    assert definition["parameters"]["required"] == ["token"]
    (output,) = json.loads(str(first.attributes["gen_ai.output.messages"]))
    assert output["role"] == "assistant" and output["finish_reason"] == "tool_call"
    assert output["parts"][0]["type"] == "tool_call" and output["parts"][0]["id"] == "c1"
    tool_span = telemetry.one("execute_tool login")
    assert tool_span.attributes is not None
    assert json.loads(str(tool_span.attributes["gen_ai.tool.call.arguments"])) == {
        "token": "[REDACTED]"
    }
    assert tool_span.attributes["gen_ai.tool.call.result"] == "logged in with [REDACTED]"


async def test_a_secret_never_reaches_an_exported_span(telemetry: Telemetry) -> None:
    await _agent(telemetry, capture_content=True).run(f"use {FAKE_KEY} please")
    dump = _everything(telemetry)
    assert "gen_ai.input.messages" in dump  # content was captured...
    assert FAKE_KEY not in dump and "SECRET" not in dump  # ...without the key
    assert "[REDACTED]" in dump


async def test_redaction_hook_sees_every_captured_text(telemetry: Telemetry) -> None:
    seen: list[str] = []

    def redact(text: str) -> str:
        seen.append(text)
        return text.replace("Alice", "<name>")

    await _agent(telemetry, capture_content=True, redact=redact).run("I am Alice")
    dump = _everything(telemetry)
    assert "Alice" not in dump and "<name>" in dump
    assert "I am Alice" in seen
