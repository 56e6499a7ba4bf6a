from __future__ import annotations

import pytest

from spine_core import (
    Agent,
    Message,
    ProviderError,
    ScriptedProvider,
    StopReason,
    TestProvider,
    ToolCall,
    tool,
)
from spine_middleware import ModelFallback, Retry

from .helpers import FakeClock

pytestmark = pytest.mark.anyio


def down(name: str) -> ProviderError:
    return ProviderError(f"{name} down", kind="server", status=500)


@tool
def ping() -> str:
    """Ping."""
    return "pong"


async def test_fallback_tries_providers_in_order() -> None:
    primary = ScriptedProvider([down("a")], model="a")
    second = ScriptedProvider([down("b")], model="b")
    third = ScriptedProvider(["from c"], model="c")
    agent = Agent(primary, middleware=[ModelFallback(second, third)])
    result = await agent.run("hi")
    assert result.answer == "from c"
    assert [len(p.calls) for p in (primary, second, third)] == [1, 1, 1]
    calls = [e.data["model"] for e in result.trace if e.type == "model_call"]
    assert calls == ["a", "b", "c"]


async def test_fallback_lasts_one_step() -> None:
    call = Message.assistant(tool_calls=[ToolCall(id="1", name="ping")])
    primary = ScriptedProvider([down("a"), "primary answers"], model="a")
    backup = ScriptedProvider([call], model="b")
    agent = Agent(primary, tools=[ping], middleware=[ModelFallback(backup)])
    result = await agent.run("hi")
    assert result.answer == "primary answers"
    assert len(primary.calls) == 2 and len(backup.calls) == 1


async def test_every_step_may_fall_back_again() -> None:
    call = Message.assistant(tool_calls=[ToolCall(id="1", name="ping")])
    primary = ScriptedProvider([down("a"), down("a")], model="a")
    backup = ScriptedProvider([call, "backup answers"], model="b")
    result = await Agent(primary, tools=[ping], middleware=[ModelFallback(backup)]).run("hi")
    assert result.answer == "backup answers"
    assert len(primary.calls) == 2 and len(backup.calls) == 2


async def test_fallback_resolves_model_strings_lazily() -> None:
    fallback = ModelFallback("test:backup")
    agent = Agent(ScriptedProvider([down("a")]), middleware=[fallback])
    result = await agent.run("hello")
    assert result.answer == "You said: hello"
    backup = fallback.provider(0)
    assert isinstance(backup, TestProvider) and backup.model == "backup"


async def test_models_keyword_for_yaml_specs() -> None:
    fallback = ModelFallback(models=["test:backup"])
    result = await Agent(ScriptedProvider([down("a")]), middleware=[fallback]).run("yo")
    assert result.answer == "You said: yo"


async def test_fallback_exhausted_fails_the_run() -> None:
    agent = Agent(
        ScriptedProvider([down("a")]),
        middleware=[ModelFallback(ScriptedProvider([down("b")], model="b"))],
    )
    result = await agent.run("hi")
    assert result.stopped_reason is StopReason.ERROR
    assert result.error is not None and "b down" in result.error


async def test_fallback_only_on_listed_kinds() -> None:
    backup = ScriptedProvider(["backup"])
    agent = Agent(
        ScriptedProvider([ProviderError("bad", kind="auth")]),
        middleware=[ModelFallback(backup, on_kinds=["server"])],
    )
    result = await agent.run("hi")
    assert result.stopped_reason is StopReason.ERROR
    assert backup.calls == []


async def test_concurrent_runs_keep_their_own_position() -> None:
    import anyio

    fallback = ModelFallback(ScriptedProvider(["b1", "b2"], model="b"))
    primaries = [ScriptedProvider([down("a")], model="a") for _ in range(2)]
    answers: list[str | None] = []

    async def one(provider: ScriptedProvider) -> None:
        answers.append((await Agent(provider, middleware=[fallback]).run("hi")).answer)

    async with anyio.create_task_group() as tg:
        for provider in primaries:
            tg.start_soon(one, provider)
    assert sorted(a or "" for a in answers) == ["b1", "b2"]


async def test_retry_inside_fallback_retries_before_switching(clock: FakeClock) -> None:
    primary = ScriptedProvider([down("a"), down("a")], model="a")
    backup = ScriptedProvider([down("b"), "backup"], model="b")
    retry = Retry(2, sleep=clock.sleep, random=lambda: 0.5)
    agent = Agent(primary, middleware=[ModelFallback(backup), retry])
    result = await agent.run("hi")
    assert result.answer == "backup"
    assert len(primary.calls) == 2  # primary retried once, then the fallback
    assert len(backup.calls) == 2  # the backup has attempts of its own
    assert len(clock.sleeps) == 2


def test_fallback_needs_a_provider() -> None:
    with pytest.raises(ValueError):
        ModelFallback()
