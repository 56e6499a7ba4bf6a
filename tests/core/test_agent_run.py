"""The agent loop end to end: every stop reason reached by a real run."""

from __future__ import annotations

import pytest

from spine_core import (
    Agent,
    FunctionProvider,
    Guards,
    Middleware,
    ProviderError,
    Role,
    RunStatus,
    ScriptedProvider,
    StepContext,
    StopReason,
    StopRun,
    TestProvider,
    tool,
)

from .helpers import BlockingProvider, asks, call, priced


@tool
async def lookup(city: str) -> str:
    """Look up the weather.

    Args:
        city: City name.
    """
    return f"sunny in {city}"


def always_calls_lookup() -> FunctionProvider:
    """A model that asks for the tool on every step and never answers."""
    counter = {"n": 0}

    def reply(messages, tools, settings):
        counter["n"] += 1
        return asks(call("lookup", f"c{counter['n']}", city="Oslo"))

    provider = FunctionProvider(reply)
    provider.counter = counter  # type: ignore[attr-defined]
    return provider


@pytest.mark.anyio
async def test_final_answer_summarises_tool_results() -> None:
    agent = Agent(TestProvider(), tools=[lookup])

    result = await agent.run("weather?")

    assert result.stopped_reason is StopReason.FINAL
    assert result.ok
    assert "sunny in example" in result.answer
    assert result.state.status is RunStatus.DONE


@pytest.mark.anyio
async def test_model_string_resolves_through_the_registry() -> None:
    agent = Agent("test:tiny", tools=[lookup])

    result = await agent.run("hi")

    assert agent.provider.name == "test" and agent.provider.model == "tiny"
    assert result.ok


@pytest.mark.anyio
async def test_system_prompt_is_stored_as_the_first_message_and_sent() -> None:
    provider = ScriptedProvider(["done"])
    agent = Agent(provider, system="Be brief.")

    result = await agent.run("hi")

    assert provider.prompts[0][0].role is Role.SYSTEM
    assert provider.prompts[0][0].text == "Be brief."
    assert [m.role for m in result.state.messages] == [Role.SYSTEM, Role.USER, Role.ASSISTANT]
    again = await agent.run("more", session_id=result.state.session_id)
    assert [m.role for m in again.state.messages].count(Role.SYSTEM) == 1


@pytest.mark.anyio
async def test_max_steps_stops_a_model_that_never_answers() -> None:
    provider = always_calls_lookup()
    agent = Agent(provider, tools=[lookup], guards=Guards(max_steps=3))

    result = await agent.run("loop forever")

    assert result.stopped_reason is StopReason.MAX_STEPS
    assert provider.counter["n"] == 3  # type: ignore[attr-defined]
    assert result.answer is None  # no assistant text so far
    assert result.state.status is RunStatus.DONE


@pytest.mark.anyio
async def test_max_cost_stops_once_spend_reaches_the_ceiling() -> None:
    provider = FunctionProvider(
        lambda m, t, s: priced(asks(call("lookup", city="x")), cost_usd=0.3)
    )
    agent = Agent(provider, tools=[lookup], guards=Guards(max_cost_usd=0.5))

    result = await agent.run("spend")

    assert result.stopped_reason is StopReason.MAX_COST
    assert result.usage.cost_usd == pytest.approx(0.6)  # overshoot by the call in flight


@pytest.mark.anyio
async def test_max_tokens_stops_once_tokens_reach_the_ceiling() -> None:
    provider = FunctionProvider(lambda m, t, s: priced(asks(call("lookup", city="x")), tokens=40))
    agent = Agent(provider, tools=[lookup], guards=Guards(max_tokens=100))

    result = await agent.run("talk")

    assert result.stopped_reason is StopReason.MAX_TOKENS
    assert result.usage.requests == 3


@pytest.mark.anyio
async def test_timeout_cancels_a_model_call_in_flight() -> None:
    provider = BlockingProvider()
    agent = Agent(provider, guards=Guards(timeout_s=0.2))

    result = await agent.run("hang")

    assert result.stopped_reason is StopReason.TIMEOUT
    assert provider.calls == 1
    assert any(e.type == "guard_trip" and e.data["reason"] == "timeout" for e in result.trace)


class _StopBefore(Middleware):
    def __init__(self, reason: StopReason, at_step: int) -> None:
        self.reason = reason
        self.at_step = at_step

    async def before_model(self, ctx: StepContext) -> None:
        if ctx.step == self.at_step:
            raise StopRun(self.reason, f"stopped by {self.reason.value} check")


@pytest.mark.anyio
@pytest.mark.parametrize("reason", [StopReason.LOOP, StopReason.GUARDRAIL])
async def test_middleware_stop_run_ends_the_run_with_its_reason(reason: StopReason) -> None:
    provider = always_calls_lookup()
    agent = Agent(provider, tools=[lookup], middleware=[_StopBefore(reason, at_step=2)])

    result = await agent.run("go")

    assert result.stopped_reason is reason
    assert result.answer == f"stopped by {reason.value} check"
    assert provider.counter["n"] == 1  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_stop_run_raised_by_a_tool_ends_the_run() -> None:
    @tool
    async def tripwire() -> str:
        """Refuse."""
        raise StopRun(StopReason.GUARDRAIL, "tool refused")

    agent = Agent(ScriptedProvider([asks(call("tripwire"))]), tools=[tripwire])

    result = await agent.run("go")

    assert result.stopped_reason is StopReason.GUARDRAIL
    assert result.answer == "tool refused"


@pytest.mark.anyio
async def test_provider_error_without_middleware_ends_with_error() -> None:
    boom = ProviderError("bad schema", kind="bad_request", status=400, provider="p", model="m")
    agent = Agent(ScriptedProvider([boom]))

    result = await agent.run("go")

    assert result.stopped_reason is StopReason.ERROR
    assert result.error is not None
    assert result.error_detail is not None
    assert result.error_detail["kind"] == "bad_request" and result.error_detail["status"] == 400
    assert result.state.status is RunStatus.ERROR


@pytest.mark.anyio
async def test_each_run_checkpoints_the_session() -> None:
    agent = Agent(ScriptedProvider(["one", "two"]))

    first = await agent.run("a")
    second = await agent.run("b", session_id=first.session_id)

    stored = await agent.checkpoint.get(first.session_id)
    assert stored is not None
    assert [m.text for m in stored.messages] == ["a", "one", "b", "two"]
    assert second.answer == "two"


@pytest.mark.anyio
async def test_new_turn_closes_calls_a_cancelled_turn_left_unanswered() -> None:
    provider = ScriptedProvider([asks(call("lookup", city="x")), "fine"])
    agent = Agent(provider, tools=[lookup])
    cancelled = await agent.run("a", should_cancel=lambda: len(provider.calls) == 1)
    assert cancelled.stopped_reason is StopReason.CANCELLED
    assert cancelled.state.pending_tool_calls() == [call("lookup", city="x")]

    result = await agent.run("b", session_id=cancelled.session_id)

    assert result.ok
    note = provider.prompts[1][2]
    assert note.role is Role.TOOL and note.is_error
    assert note.text == "Not executed: the run stopped (cancelled)."


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_timeout_cancels_a_tool_call_in_flight_and_the_session_can_continue() -> None:
    import anyio

    never = anyio.Event()

    @tool
    async def hang() -> str:
        """Never returns."""
        await never.wait()
        return "unreachable"

    provider = ScriptedProvider([asks(call("hang")), "gave up on it"])
    agent = Agent(provider, tools=[hang], guards=Guards(timeout_s=0.2))

    result = await agent.run("go", session_id="t")

    assert result.stopped_reason is StopReason.TIMEOUT
    stored = await agent.checkpoint.get("t")
    assert stored is not None and stored.pending_tool_calls() == [call("hang")]
    follow_up = await agent.run("forget it", session_id="t")
    assert follow_up.ok and follow_up.answer == "gave up on it"


@pytest.mark.anyio
async def test_async_with_closes_the_provider() -> None:
    closed: list[bool] = []

    class Closing(ScriptedProvider):
        async def aclose(self) -> None:
            closed.append(True)

    async with Agent(Closing(["hi"])) as agent:
        await agent.run("hello")
        assert closed == []

    assert closed == [True]
