from __future__ import annotations

from typing import Any

import pytest

from spine_core import (
    Agent,
    InMemoryCheckpointStore,
    InMemoryKeyValueStore,
    Message,
    ScriptedProvider,
    ToolCall,
    tool,
)
from spine_middleware import Idempotency

pytestmark = pytest.mark.anyio

SENT: list[str] = []


@tool
def send_email(to: str, note: str = "") -> str:
    """Send an e-mail.

    Args:
        to: Recipient.
        note: Free text.
    """
    SENT.append(to)
    return f"sent #{len(SENT)} to {to}"


@tool
def charge(amount: int) -> dict[str, Any]:
    """Charge a card.

    Args:
        amount: Cents.
    """
    SENT.append(f"charge {amount}")
    return {"charged": amount, "receipt": len(SENT)}


@tool(approve=True)
def wire(amount: int) -> str:
    """Wire money (needs approval).

    Args:
        amount: Cents.
    """
    SENT.append(f"wire {amount}")
    return f"wired {amount}"


def calls(name: str, call_id: str, **arguments: Any) -> Message:
    return Message.assistant(tool_calls=[ToolCall(id=call_id, name=name, arguments=arguments)])


def send(to: str, call_id: str, **extra: Any) -> Message:
    return calls("send_email", call_id, to=to, **extra)


def results(messages: list[Message]) -> list[str]:
    return [m.text for m in messages if m.role == "tool"]


@pytest.fixture(autouse=True)
def _reset() -> None:
    SENT.clear()


async def test_a_repeated_call_replays_the_result_without_running_the_tool() -> None:
    provider = ScriptedProvider(
        [send("a@x.io", "1"), send("a@x.io", "2"), send("b@x.io", "3"), "ok"]
    )
    agent = Agent(
        provider, tools=[send_email, charge], middleware=[Idempotency(tools=["send_email"])]
    )
    result = await agent.run("mail")
    assert result.ok
    assert SENT == ["a@x.io", "b@x.io"]
    assert results(result.state.messages) == [
        "sent #1 to a@x.io",
        "sent #1 to a@x.io",
        "sent #2 to b@x.io",
    ]


async def test_tools_leaves_other_tools_alone() -> None:
    provider = ScriptedProvider(
        [calls("charge", "1", amount=5), calls("charge", "2", amount=5), "ok"]
    )
    agent = Agent(provider, tools=[charge], middleware=[Idempotency(tools=["send_email"])])
    await agent.run("pay")
    assert SENT == ["charge 5", "charge 5"]


async def test_repeats_are_caught_across_sessions_by_default_and_per_session_on_request() -> None:
    agent = Agent(
        ScriptedProvider([send("a@x.io", "1"), "ok"] * 2),
        tools=[send_email],
        middleware=[Idempotency()],
    )
    await agent.run("mail", session_id="s1")
    await agent.run("mail", session_id="s2")
    assert SENT == ["a@x.io"]

    SENT.clear()
    per_session = Agent(
        ScriptedProvider([send("a@x.io", "1"), "ok"] * 3),
        tools=[send_email],
        middleware=[Idempotency(scope="session")],
    )
    await per_session.run("mail", session_id="s1")
    await per_session.run("mail", session_id="s1")
    await per_session.run("mail", session_id="s2")
    assert SENT == ["a@x.io", "a@x.io"]


async def test_workers_sharing_a_dict_store_replay_each_others_raw_results() -> None:
    store: dict[str, Any] = {}
    first = Agent(
        ScriptedProvider([calls("charge", "1", amount=5), "ok"]),
        tools=[charge],
        middleware=[Idempotency(store=store)],
    )
    second = Agent(
        ScriptedProvider([calls("charge", "9", amount=5), "ok"]),
        tools=[charge],
        middleware=[Idempotency(store=store)],
    )
    live = await first.run("pay")
    replayed = await second.run("pay")
    assert SENT == ["charge 5"]
    assert list(store.values()) == [{"charged": 5, "receipt": 1}]
    assert results(replayed.state.messages) == results(live.state.messages)


async def test_workers_sharing_a_key_value_store_replay_each_other() -> None:
    store = InMemoryKeyValueStore()
    agents = [
        Agent(
            ScriptedProvider([calls("charge", "1", amount=7), "ok"]),
            tools=[charge],
            middleware=[Idempotency(store=store)],
        )
        for _ in range(2)
    ]
    live = await agents[0].run("pay")
    replayed = await agents[1].run("pay")
    assert SENT == ["charge 7"]
    assert results(replayed.state.messages) == results(live.state.messages)
    assert results(live.state.messages) == ['{"charged": 7, "receipt": 1}']


async def test_a_custom_key_decides_what_counts_as_a_repeat() -> None:
    provider = ScriptedProvider(
        [send("a@x.io", "1", note="hi"), send("a@x.io", "2", note="hello again"), "ok"]
    )
    mw = Idempotency(key=lambda name, args: f"{name}:{args['to']}")
    await Agent(provider, tools=[send_email], middleware=[mw]).run("mail")
    assert SENT == ["a@x.io"]


async def test_failed_calls_are_not_recorded_so_they_run_again() -> None:
    attempts: list[int] = []

    @tool
    def flaky() -> str:
        """Fails the first time."""
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("boom")
        return "worked"

    script: list[Message | str] = [
        calls("flaky", "1"),
        calls("flaky", "2"),
        calls("flaky", "3"),
        "ok",
    ]
    agent = Agent(ScriptedProvider(script), tools=[flaky], middleware=[Idempotency()])
    result = await agent.run("go")
    tool_messages = [m for m in result.state.messages if m.role == "tool"]
    assert [(m.text, m.is_error) for m in tool_messages] == [
        ("Tool 'flaky' failed: RuntimeError: boom", True),
        ("worked", False),
        ("worked", False),  # the success is recorded and replayed
    ]
    assert len(attempts) == 2


async def test_an_approved_call_is_deduplicated_too() -> None:
    checkpoints = InMemoryCheckpointStore()
    mw = Idempotency()

    async def approved_run(session_id: str) -> list[str]:
        agent = Agent(
            ScriptedProvider([calls("wire", "1", amount=3), "done"]),
            tools=[wire],
            checkpoint=checkpoints,
            middleware=[mw],
        )
        paused = await agent.run("pay", session_id=session_id)
        assert paused.interrupted and paused.resume_token is not None
        result = await agent.resume(paused.resume_token, "approve")
        return results(result.state.messages)

    assert await approved_run("s1") == ["wired 3"]
    assert await approved_run("s2") == ["wired 3"]
    assert SENT == ["wire 3"]


def test_scope_is_checked() -> None:
    with pytest.raises(ValueError):
        Idempotency(scope="tenant")  # type: ignore[arg-type]
