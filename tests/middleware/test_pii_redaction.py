from __future__ import annotations

import json

import pytest

from spine_core import Agent, Message, ScriptedProvider, ToolCall, tool
from spine_middleware import PIIRedaction, Recorder, iban_valid, luhn_valid, redact

pytestmark = pytest.mark.anyio

POSITIVE = [
    ("write to jane.doe+work@example.co.uk today", "EMAIL"),
    ("call +44 20 7946 0958", "PHONE"),
    ("call (555) 123-4567", "PHONE"),
    ("call 555.123.4567", "PHONE"),
    ("visa 4111 1111 1111 1111", "CARD"),
    ("amex 3782-822463-10005", "CARD"),
    ("iban GB82 WEST 1234 5698 7654 32", "IBAN"),
    ("iban DE89370400440532013000", "IBAN"),
    ("host 192.168.10.254", "IPV4"),
    ("host 2001:db8::8a2e:370:7334", "IPV6"),
    ("key sk-proj-abcdefghijklmnopqrstuvwxyz0123", "API_KEY"),
    ("aws AKIAIOSFODNN7EXAMPLE", "API_KEY"),
    ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "API_KEY"),
]

NEGATIVE = [
    "card-like 4111 1111 1111 1112 fails Luhn",
    "order number 1234567890123",
    "iban-like GB82 WEST 1234 5698 7654 33 fails mod-97",
    "not an ip 999.1.1.1",
    "version 1.2.3",
    "date 2024-01-15 at 12:30:45",
    "price 1,234.56 USD",
    "user@localhost",
]


@pytest.mark.parametrize(("text", "kind"), POSITIVE)
def test_pii_is_redacted(text: str, kind: str) -> None:
    redacted = PIIRedaction().redact(text)
    assert f"[REDACTED_{kind}]" in redacted
    assert redacted.split()[0] == text.split()[0]
    assert redact(text) == redacted


@pytest.mark.parametrize("text", NEGATIVE)
def test_non_pii_is_left_alone(text: str) -> None:
    assert PIIRedaction().redact(text) == text


def test_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82WEST12345698765433")


def test_entities_selects_what_is_masked() -> None:
    text = "jane@example.com, card 4111111111111111"
    assert PIIRedaction(["email"]).redact(text) == "[REDACTED_EMAIL], card 4111111111111111"
    assert PIIRedaction(entities=["card"]).redact(text) == "jane@example.com, card [REDACTED_CARD]"


def test_unknown_entity_is_rejected() -> None:
    with pytest.raises(ValueError, match="passport"):
        PIIRedaction(["passport"])


@tool
def lookup() -> str:
    """Customer record."""
    return "Jane, jane@example.com, card 4111111111111111"


@tool
def lookup_json() -> dict[str, str]:
    """Customer record as an object."""
    return {"name": "Jane", "email": "jane@example.com"}


@tool
def count() -> dict[str, int]:
    """A count."""
    return {"n": 3}


def call(name: str) -> Message:
    return Message.assistant(tool_calls=[ToolCall(id="1", name=name)])


async def test_tool_results_are_redacted_before_the_trace_and_answers_too() -> None:
    provider = ScriptedProvider([call("lookup"), "Her email is jane@example.com"])
    result = await Agent(provider, tools=[lookup], middleware=[PIIRedaction()]).run("who?")
    traced = next(e for e in result.trace if e.type == "tool_result")
    assert traced.data["result"] == "Jane, [REDACTED_EMAIL], card [REDACTED_CARD]"
    assert provider.calls[1].messages[-1].text == traced.data["result"]
    assert result.answer == "Her email is [REDACTED_EMAIL]"
    assert result.state.messages[-1].text == result.answer
    assert "jane@example.com" not in result.state.model_dump_json()
    assert "jane@example.com" not in json.dumps([e.data for e in result.trace], default=str)


async def test_non_text_tool_results_are_redacted_as_the_text_the_model_sees() -> None:
    provider = ScriptedProvider([call("lookup_json"), "ok"])
    result = await Agent(provider, tools=[lookup_json], middleware=[PIIRedaction()]).run("who?")
    assert provider.calls[1].messages[-1].text == '{"name": "Jane", "email": "[REDACTED_EMAIL]"}'
    assert result.ok


async def test_results_without_pii_stay_as_the_tool_returned_them() -> None:
    recorder = Recorder()  # outermost: sees the result as PIIRedaction left it
    provider = ScriptedProvider([call("count"), "ok"])
    await Agent(provider, tools=[count], middleware=[recorder, PIIRedaction()]).run("n?")
    assert recorder.tool_results == [{"n": 3}]


async def test_tool_output_and_final_answer_can_be_left_alone() -> None:
    provider = ScriptedProvider([call("lookup"), "Her email is jane@example.com"])
    mw = PIIRedaction(redact_tool_output=False, redact_final_answer=False)
    result = await Agent(provider, tools=[lookup], middleware=[mw]).run("who?")
    assert "jane@example.com" in provider.calls[1].messages[-1].text
    assert result.answer == "Her email is jane@example.com"


async def test_inputs_redacted_only_in_what_is_sent() -> None:
    provider = ScriptedProvider(["ok"])
    agent = Agent(provider, middleware=[PIIRedaction(["email"], redact_inputs=True)])
    result = await agent.run("mail me at a@b.io")
    assert provider.calls[0].messages[-1].text == "mail me at [REDACTED_EMAIL]"
    assert result.state.messages[-2].text == "mail me at a@b.io"
