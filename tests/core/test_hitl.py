"""Human in the loop: approval pauses, Interrupt raised by tools, resumed by a fresh Agent that
shares only the checkpoint store."""

from __future__ import annotations

import pytest

from spine_core import (
    Agent,
    InMemoryCheckpointStore,
    Interrupt,
    RunStatus,
    ScriptedProvider,
    SpineError,
    StopReason,
    tool,
)

from .helpers import asks, call, tool_messages

executed: list[str] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    executed.clear()


@tool(approve=True)
async def transfer(amount: int) -> str:
    """Move money."""
    executed.append(f"transfer {amount}")
    return f"sent {amount}"


@tool
async def balance() -> str:
    """Read the balance."""
    executed.append("balance")
    return "100"


@tool
async def notify() -> str:
    """Tell the user."""
    executed.append("notify")
    return "notified"


@tool
async def ask_colour() -> str:
    """Ask the user for a colour."""
    raise Interrupt("Which colour?", data={"choices": ["red", "blue"]})


TOOLS = [transfer, balance, notify, ask_colour]


def fresh_agent(store: InMemoryCheckpointStore, *script: object) -> tuple[Agent, ScriptedProvider]:
    provider = ScriptedProvider(list(script))  # type: ignore[arg-type]
    return Agent(provider, tools=TOOLS, checkpoint=store), provider


@pytest.mark.anyio
async def test_approval_tool_pauses_before_running() -> None:
    store = InMemoryCheckpointStore()
    agent, _ = fresh_agent(store, asks(call("transfer", amount=5)))

    result = await agent.run("pay")

    assert result.stopped_reason is StopReason.INTERRUPT and result.interrupted
    assert executed == []
    assert result.interrupt is not None and result.interrupt.kind == "approval"
    assert result.interrupt.tool_call == call("transfer", amount=5)
    assert result.resume_token == f"{result.session_id}:{result.interrupt.id}"
    stored = await store.get(result.session_id)
    assert stored is not None and stored.status is RunStatus.INTERRUPTED


@pytest.mark.anyio
async def test_resume_from_fresh_agent_runs_approved_tool() -> None:
    store = InMemoryCheckpointStore()
    first, _ = fresh_agent(store, asks(call("transfer", amount=5)))
    paused = await first.run("pay")
    assert paused.resume_token is not None

    second, provider = fresh_agent(store, "paid")
    result = await second.resume(paused.resume_token, "approve")

    assert result.ok and result.answer == "paid"
    assert executed == ["transfer 5"]
    assert tool_messages(provider.prompts[0]) == [("transfer", "sent 5", False)]


@pytest.mark.anyio
async def test_reject_returns_the_reason_to_the_model() -> None:
    store = InMemoryCheckpointStore()
    first, _ = fresh_agent(store, asks(call("transfer", amount=5)))
    paused = await first.run("pay")

    second, provider = fresh_agent(store, "ok, not paying")
    result = await second.resume(paused.resume_token or "", "reject", reason="too much")

    assert result.ok and executed == []
    assert tool_messages(provider.prompts[0]) == [
        ("transfer", "The user rejected this tool call: too much", True)
    ]


@pytest.mark.anyio
async def test_interrupt_raised_in_a_tool_is_answered_on_resume() -> None:
    store = InMemoryCheckpointStore()
    first, _ = fresh_agent(store, asks(call("ask_colour")))
    paused = await first.run("paint")

    assert paused.interrupt is not None
    assert (paused.interrupt.kind, paused.interrupt.question) == ("input", "Which colour?")
    assert paused.interrupt.data == {"choices": ["red", "blue"]}

    second, provider = fresh_agent(store, "painting it blue")
    result = await second.resume(paused.resume_token or "", answer="blue")

    assert result.answer == "painting it blue"
    assert tool_messages(provider.prompts[0]) == [("ask_colour", "blue", False)]


@pytest.mark.anyio
async def test_stale_token_is_rejected() -> None:
    store = InMemoryCheckpointStore()
    first, _ = fresh_agent(store, asks(call("transfer", amount=5)))
    paused = await first.run("pay")
    second, _ = fresh_agent(store, "paid")
    await second.resume(paused.resume_token or "")

    third, _ = fresh_agent(store, "again")
    with pytest.raises(SpineError, match="stale"):
        await third.resume(paused.resume_token or "")
    assert executed == ["transfer 5"]


@pytest.mark.anyio
async def test_unknown_session_token_is_rejected() -> None:
    agent, _ = fresh_agent(InMemoryCheckpointStore())

    with pytest.raises(SpineError, match="no session"):
        await agent.resume("missing:abc")


@pytest.mark.anyio
async def test_calls_after_a_paused_call_run_in_order_on_resume() -> None:
    store = InMemoryCheckpointStore()
    batch = asks(call("balance"), call("transfer", amount=7), call("notify"))
    first, _ = fresh_agent(store, batch)
    paused = await first.run("pay and tell me")

    assert executed == ["balance"]
    assert paused.state.pending_tool_calls() == [call("transfer", amount=7), call("notify")]

    second, provider = fresh_agent(store, "done")
    result = await second.resume(paused.resume_token or "")

    assert result.ok
    assert executed == ["balance", "transfer 7", "notify"]
    assert [name for name, _, _ in tool_messages(provider.prompts[0])] == [
        "balance",
        "transfer",
        "notify",
    ]


@pytest.mark.anyio
async def test_second_gated_call_in_a_batch_pauses_again() -> None:
    store = InMemoryCheckpointStore()
    batch = asks(call("transfer", "t1", amount=1), call("transfer", "t2", amount=2))
    first, _ = fresh_agent(store, batch)
    paused = await first.run("pay twice")

    second, _ = fresh_agent(store, "done")
    again = await second.resume(paused.resume_token or "")

    assert again.interrupted and again.interrupt is not None
    assert again.interrupt.tool_call.id == "t2"
    assert again.resume_token != paused.resume_token
    assert executed == ["transfer 1"]


@pytest.mark.anyio
async def test_new_input_to_an_interrupted_session_raises() -> None:
    store = InMemoryCheckpointStore()
    agent, _ = fresh_agent(store, asks(call("transfer", amount=5)))
    paused = await agent.run("pay")

    with pytest.raises(SpineError, match="waiting for a human decision"):
        await agent.run("never mind", session_id=paused.session_id)


@pytest.mark.anyio
async def test_usage_of_a_turn_accumulates_across_the_resume() -> None:
    store = InMemoryCheckpointStore()
    first, _ = fresh_agent(store, asks(call("transfer", amount=5)))
    paused = await first.run("pay")
    second, _ = fresh_agent(store, "paid")

    result = await second.resume(paused.resume_token or "")

    assert result.usage.requests == 2
    assert result.state.step == 2


@pytest.mark.anyio
async def test_before_tool_sees_the_human_decision_on_resume() -> None:
    from spine_core import Middleware, ToolContext

    decisions: list[object] = []

    class Audit(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            decisions.append(ctx.decision and ctx.decision.action)

    store = InMemoryCheckpointStore()
    first, _ = fresh_agent(store, asks(call("transfer", amount=5)))
    paused = await first.run("pay")
    second = Agent(ScriptedProvider(["paid"]), tools=TOOLS, checkpoint=store, middleware=[Audit()])

    await second.resume(paused.resume_token or "")

    assert decisions == ["approve"]
