from __future__ import annotations

import pytest

from spine_core import Agent, ProviderError, ScriptedProvider, StopReason, TestProvider
from spine_middleware import ModelFallback, Retry

from .helpers import FakeClock

pytestmark = pytest.mark.anyio


def down(name: str) -> ProviderError:
    return ProviderError(f"{name} down", kind="server", status=500)


async def test_fallback_tries_models_in_order() -> None:
    primary = ScriptedProvider([down("a")], model="a")
    second = ScriptedProvider([down("b")], model="b")
    third = ScriptedProvider(["from c"], model="c")
    agent = Agent(primary, middleware=[ModelFallback(models=[second, third])])
    result = await agent.run("hi")
    assert result.answer == "from c"
    assert [len(p.calls) for p in (primary, second, third)] == [1, 1, 1]
    calls = [e.data["model"] for e in result.trace if e.type == "model_call"]
    assert calls == ["a", "b", "c"]


async def test_fallback_starts_each_step_on_the_primary() -> None:
    from spine_core import Message, ToolCall, tool

    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    call = Message.assistant(tool_calls=[ToolCall(id="1", name="ping")])
    primary = ScriptedProvider([down("a"), "primary answers"], model="a")
    backup = ScriptedProvider([call], model="b")
    agent = Agent(primary, tools=[ping], middleware=[ModelFallback(models=[backup])])
    result = await agent.run("hi")
    assert result.answer == "primary answers"
    assert len(primary.calls) == 2 and len(backup.calls) == 1


async def test_fallback_resolves_model_strings_lazily() -> None:
    fallback = ModelFallback(models=["test:backup"])
    agent = Agent(ScriptedProvider([down("a")]), middleware=[fallback])
    result = await agent.run("hello")
    assert result.answer == "You said: hello"
    assert isinstance(fallback.provider(0), TestProvider)
    assert fallback.provider(0).model == "backup"


async def test_fallback_exhausted_fails_the_run() -> None:
    agent = Agent(
        ScriptedProvider([down("a")]),
        middleware=[ModelFallback(models=[ScriptedProvider([down("b")])])],
    )
    result = await agent.run("hi")
    assert result.stopped_reason is StopReason.ERROR


async def test_fallback_only_on_listed_kinds() -> None:
    backup = ScriptedProvider(["backup"])
    agent = Agent(
        ScriptedProvider([ProviderError("bad", kind="auth")]),
        middleware=[ModelFallback(models=[backup], on_kinds=["server"])],
    )
    result = await agent.run("hi")
    assert result.stopped_reason is StopReason.ERROR
    assert backup.calls == []


async def test_retry_inside_fallback_retries_before_switching(clock: FakeClock) -> None:
    primary = ScriptedProvider([down("a"), down("a")], model="a")
    backup = ScriptedProvider(["backup"], model="b")
    retry = Retry(max_attempts=2, sleep=clock.sleep, random=lambda: 0.0)
    agent = Agent(primary, middleware=[ModelFallback(models=[backup]), retry])
    result = await agent.run("hi")
    assert result.answer == "backup"
    assert len(primary.calls) == 2
    assert len(clock.sleeps) == 1
