from __future__ import annotations

import pytest

from spine_core import Agent, Message, ScriptedProvider, ToolCall, tool
from spine_middleware import PIIRedaction, iban_valid, luhn_valid, redact

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
    redacted = redact(text)
    assert f"[REDACTED:{kind}]" in redacted
    assert redacted.split()[0] == text.split()[0]


@pytest.mark.parametrize("text", NEGATIVE)
def test_non_pii_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82WEST12345698765433")


@tool
def lookup() -> str:
    """Customer record."""
    return "Jane, jane@example.com, card 4111111111111111"


async def test_tool_results_are_redacted_before_the_trace_and_answers_too() -> None:
    call = Message.assistant(tool_calls=[ToolCall(id="1", name="lookup")])
    provider = ScriptedProvider([call, "Her email is jane@example.com"])
    result = await Agent(provider, tools=[lookup], middleware=[PIIRedaction()]).run("who?")
    traced = next(e for e in result.trace if e.type == "tool_result")
    assert traced.data["result"] == "Jane, [REDACTED:EMAIL], card [REDACTED:CARD]"
    assert "jane@example.com" not in provider.calls[1].messages[-1].content
    assert result.answer == "Her email is [REDACTED:EMAIL]"
    assert result.state.messages[-1].content == result.answer


async def test_inputs_redacted_only_in_what_is_sent() -> None:
    provider = ScriptedProvider(["ok"])
    agent = Agent(provider, middleware=[PIIRedaction(inputs=True, kinds=["email"])])
    result = await agent.run("mail me at a@b.io")
    assert provider.calls[0].messages[-1].content == "mail me at [REDACTED:EMAIL]"
    assert result.state.messages[0].content == "mail me at a@b.io"


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError):
        PIIRedaction(kinds=["ssn"])
