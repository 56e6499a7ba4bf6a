from __future__ import annotations

import pytest

from spine_core import Agent, InMemoryKeyValueStore, Message, ScriptedProvider, ToolCall, tool
from spine_middleware import Idempotency

pytestmark = pytest.mark.anyio

SENT: list[str] = []


@tool
def send_email(to: str) -> str:
    """Send an e-mail.

    Args:
        to: Recipient.
    """
    SENT.append(to)
    return f"sent #{len(SENT)} to {to}"


def send(to: str, call_id: str) -> Message:
    return Message.assistant(
        tool_calls=[ToolCall(id=call_id, name="send_email", arguments={"to": to})]
    )


@pytest.fixture(autouse=True)
def _reset() -> None:
    SENT.clear()


async def test_same_call_in_a_session_runs_once() -> None:
    provider = ScriptedProvider(
        [send("a@x.io", "1"), send("a@x.io", "2"), send("b@x.io", "3"), "ok"]
    )
    agent = Agent(provider, tools=[send_email], middleware=[Idempotency(tools=["send_email"])])
    result = await agent.run("mail")
    assert result.ok
    assert SENT == ["a@x.io", "b@x.io"]
    results = [m.content for m in result.state.messages if m.role == "tool"]
    assert results == ["sent #1 to a@x.io", "sent #1 to a@x.io", "sent #2 to b@x.io"]


async def test_workers_sharing_a_store_replay_each_other() -> None:
    store = InMemoryKeyValueStore()
    first = Agent(
        ScriptedProvider([send("a@x.io", "1"), "ok"]),
        tools=[send_email],
        middleware=[Idempotency(store=store)],
    )
    second = Agent(
        ScriptedProvider([send("a@x.io", "1"), "ok", send("a@x.io", "1"), "ok"]),
        tools=[send_email],
        middleware=[Idempotency(store=store)],
    )
    await first.run("mail", session_id="s1")
    await second.run("mail", session_id="s1")
    assert SENT == ["a@x.io"]
    await second.run("mail", session_id="s2")  # session scope: another session sends again
    assert SENT == ["a@x.io", "a@x.io"]


async def test_errors_are_not_recorded() -> None:
    attempts: list[int] = []

    @tool
    def flaky() -> str:
        """Fails the first time."""
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("boom")
        return "worked"

    call = Message.assistant(tool_calls=[ToolCall(id="1", name="flaky")])
    again = Message.assistant(tool_calls=[ToolCall(id="2", name="flaky")])
    agent = Agent(ScriptedProvider([call, again, "ok"]), tools=[flaky], middleware=[Idempotency()])
    result = await agent.run("go")
    tool_results = [m for m in result.state.messages if m.role == "tool"]
    assert tool_results[0].is_error and tool_results[1].content == "worked"
    assert len(attempts) == 2
