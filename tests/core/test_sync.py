"""run_sync / resume_sync: a facade for synchronous code that refuses to run inside a loop."""

from __future__ import annotations

import pytest

from spine_core import Agent, ScriptedProvider, tool

from .helpers import asks, call


@tool(approve=True)
async def deploy() -> str:
    """Deploy."""
    return "deployed"


def test_run_sync_outside_a_loop_returns_the_result() -> None:
    agent = Agent(ScriptedProvider(["hello"]))

    result = agent.run_sync("hi")

    assert result.answer == "hello"
    assert agent.last_result is result


def test_resume_sync_continues_a_pause() -> None:
    agent = Agent(ScriptedProvider([asks(call("deploy")), "shipped"]), tools=[deploy])
    paused = agent.run_sync("ship it")

    result = agent.resume_sync(paused.resume_token or "", "approve")

    assert result.answer == "shipped"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_run_sync_inside_a_running_loop_raises_a_clear_error() -> None:
    provider = ScriptedProvider(["never"])
    agent = Agent(provider)

    with pytest.raises(RuntimeError, match=r"running event loop; use `await agent.run\(...\)`"):
        agent.run_sync("hi")
    assert provider.calls == []


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_resume_sync_inside_a_running_loop_raises_a_clear_error() -> None:
    agent = Agent(ScriptedProvider([]))

    with pytest.raises(RuntimeError, match=r"await agent.resume"):
        agent.resume_sync("s:x")
