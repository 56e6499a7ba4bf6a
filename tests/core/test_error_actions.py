"""on_error and ErrorAction: retry, fallback, skip and fail for model and tool errors."""

from __future__ import annotations

from typing import Any

import pytest

from spine_core import (
    Agent,
    ErrorAction,
    Guards,
    Middleware,
    ProviderError,
    ScriptedProvider,
    StepContext,
    StopReason,
    ToolContext,
    tool,
)

from .helpers import asks, call, tool_messages


def overloaded() -> ProviderError:
    return ProviderError("busy", kind="overloaded", status=529, provider="scripted")


class Always(Middleware):
    """Answers every error with the same action and counts the errors it saw."""

    def __init__(self, action: ErrorAction) -> None:
        self.action = action
        self.errors: list[Exception] = []

    async def on_error(self, ctx: Any, error: Exception) -> ErrorAction:
        self.errors.append(error)
        return self.action


@pytest.mark.anyio
async def test_retry_calls_the_provider_again() -> None:
    provider = ScriptedProvider([overloaded(), "recovered"])
    agent = Agent(provider, middleware=[Always(ErrorAction.RETRY)])

    result = await agent.run("go")

    assert result.answer == "recovered"
    assert len(provider.calls) == 2
    assert result.state.step == 1  # a retry is part of the same step


@pytest.mark.anyio
async def test_retries_are_bounded_by_max_retries_per_step() -> None:
    provider = ScriptedProvider([overloaded() for _ in range(10)])
    agent = Agent(
        provider, middleware=[Always(ErrorAction.RETRY)], guards=Guards(max_retries_per_step=3)
    )

    result = await agent.run("go")

    assert result.stopped_reason is StopReason.ERROR
    assert len(provider.calls) == 3
    assert result.error_detail is not None and result.error_detail["kind"] == "overloaded"


@pytest.mark.anyio
async def test_fallback_switches_the_provider_for_the_retry() -> None:
    primary = ScriptedProvider([overloaded()], name="primary")
    backup = ScriptedProvider(["from backup"], name="backup")

    class Fallback(Middleware):
        async def on_error(self, ctx: Any, error: Exception) -> ErrorAction:
            assert isinstance(ctx, StepContext)
            ctx.provider = backup
            return ErrorAction.FALLBACK

    agent = Agent(primary, middleware=[Fallback()])

    result = await agent.run("go")

    assert result.answer == "from backup"
    assert len(primary.calls) == 1 and len(backup.calls) == 1
    calls = [e.data["provider"] for e in result.trace if e.type == "model_call"]
    assert calls == ["primary", "backup"]


@pytest.mark.anyio
async def test_fallback_lasts_one_step_then_the_agent_provider_is_used_again() -> None:
    primary = ScriptedProvider([overloaded(), "primary again"], name="primary")
    backup = ScriptedProvider([asks(call("noop"))], name="backup")

    @tool
    async def noop() -> str:
        """Nothing."""
        return "ok"

    class Fallback(Middleware):
        async def on_error(self, ctx: Any, error: Exception) -> ErrorAction:
            ctx.provider = backup
            return ErrorAction.FALLBACK

    result = await Agent(primary, tools=[noop], middleware=[Fallback()]).run("go")

    assert result.answer == "primary again"


@pytest.mark.anyio
async def test_fail_ends_the_run_with_the_provider_error() -> None:
    middleware = Always(ErrorAction.FAIL)
    provider = ScriptedProvider([overloaded(), "never"])
    agent = Agent(provider, middleware=[middleware])

    result = await agent.run("go")

    assert result.stopped_reason is StopReason.ERROR
    assert len(provider.calls) == 1
    assert isinstance(middleware.errors[0], ProviderError)


@pytest.mark.anyio
async def test_skip_drops_the_step_and_the_next_step_calls_again() -> None:
    class SkipOnce(Middleware):
        async def on_error(self, ctx: Any, error: Exception) -> ErrorAction | None:
            return ErrorAction.SKIP if ctx.step == 1 else None

    provider = ScriptedProvider([overloaded(), "second step"])
    agent = Agent(provider, middleware=[SkipOnce()])

    result = await agent.run("go")

    assert result.answer == "second step"
    assert result.state.step == 2
    assert [m.text for m in result.state.messages] == ["go", "second step"]


@pytest.mark.anyio
async def test_non_provider_exception_from_a_provider_is_mapped_to_unknown() -> None:
    middleware = Always(ErrorAction.FAIL)
    agent = Agent(ScriptedProvider([KeyError("choices")]), middleware=[middleware])

    result = await agent.run("go")

    error = middleware.errors[0]
    assert isinstance(error, ProviderError) and error.kind == "unknown"
    assert isinstance(error.__cause__, KeyError)
    assert result.error_detail is not None and "KeyError" in result.error_detail["message"]


@tool
async def flaky(ctx: ToolContext) -> str:
    """Fails on the first attempt."""
    if ctx.attempt == 0:
        raise ConnectionError("reset by peer")
    return f"ok on attempt {ctx.attempt}"


@pytest.mark.anyio
async def test_tool_exception_goes_to_the_model_and_the_run_continues() -> None:
    provider = ScriptedProvider([asks(call("flaky")), "I could not reach it"])
    agent = Agent(provider, tools=[flaky])

    result = await agent.run("go")

    assert result.ok
    assert tool_messages(result.state.messages) == [
        ("flaky", "Tool 'flaky' failed: ConnectionError: reset by peer", True)
    ]
    assert provider.prompts[1][-1].is_error


@pytest.mark.anyio
async def test_on_error_retry_calls_the_tool_again() -> None:
    provider = ScriptedProvider([asks(call("flaky")), "done"])
    agent = Agent(provider, tools=[flaky], middleware=[Always(ErrorAction.RETRY)])

    result = await agent.run("go")

    assert tool_messages(result.state.messages) == [("flaky", "ok on attempt 1", False)]


@pytest.mark.anyio
async def test_on_error_sees_the_tool_context_for_tool_errors() -> None:
    middleware = Always(ErrorAction.SKIP)
    seen: list[Any] = []

    class Spy(Middleware):
        async def on_error(self, ctx: Any, error: Exception) -> None:
            seen.append((type(ctx), getattr(ctx, "call", None)))

    agent = Agent(
        ScriptedProvider([asks(call("flaky")), "done"]),
        tools=[flaky],
        middleware=[middleware, Spy()],
    )

    await agent.run("go")

    assert seen == [(ToolContext, call("flaky"))]


@pytest.mark.anyio
async def test_on_error_fail_on_a_tool_error_ends_the_run_with_error() -> None:
    provider = ScriptedProvider([asks(call("flaky")), "never"])
    agent = Agent(provider, tools=[flaky], middleware=[Always(ErrorAction.FAIL)])

    result = await agent.run("go")

    assert result.stopped_reason is StopReason.ERROR
    assert result.error == "reset by peer"
    assert result.error_detail == {"type": "ConnectionError", "message": "reset by peer"}
    assert len(provider.calls) == 1
