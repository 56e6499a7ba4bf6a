from __future__ import annotations

from typing import Any

import pytest

from spine_core import (
    Agent,
    Message,
    Middleware,
    ModelResponse,
    ProviderError,
    Result,
    ScriptedProvider,
    State,
    StepContext,
    ToolCall,
    ToolContext,
    Usage,
    tool,
)
from spine_middleware import Cache, Compaction, CostTracking, PIIRedaction, Retry

from .helpers import FakeClock

pytestmark = pytest.mark.anyio


class Probe(Middleware):
    """Appends "<name>.<hook>" to a shared log for every hook."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    async def on_run_start(self, state: State) -> None:
        self.log.append(f"{self.name}.on_run_start")

    async def before_model(self, ctx: StepContext[Any]) -> None:
        self.log.append(f"{self.name}.before_model")

    async def after_model(self, ctx: StepContext[Any]) -> None:
        self.log.append(f"{self.name}.after_model")

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        self.log.append(f"{self.name}.before_tool")

    async def after_tool(self, ctx: ToolContext[Any]) -> None:
        self.log.append(f"{self.name}.after_tool")

    async def on_run_end(self, state: State, result: Result) -> None:
        self.log.append(f"{self.name}.on_run_end")


@tool
def echo(text: str) -> str:
    """Echo.

    Args:
        text: Text.
    """
    return text


async def test_onion_order_across_library_middleware(clock: FakeClock) -> None:
    log: list[str] = []
    call = Message.assistant(
        tool_calls=[ToolCall(id="1", name="echo", arguments={"text": "a@b.io"})]
    )
    provider = ScriptedProvider([ProviderError("busy", kind="overloaded"), call, "done"])
    chain: list[Any] = [
        Probe("outer", log),
        Retry(sleep=clock.sleep, random=lambda: 0.5),
        PIIRedaction(),
        Probe("inner", log),
    ]
    result = await Agent(provider, tools=[echo], middleware=chain).run("go")
    assert result.answer == "done"
    assert log == [
        "outer.on_run_start", "inner.on_run_start",
        "outer.before_model", "inner.before_model",
        "inner.after_model", "outer.after_model",
        "outer.before_tool", "inner.before_tool",
        "inner.after_tool", "outer.after_tool",
        "outer.before_model", "inner.before_model",
        "inner.after_model", "outer.after_model",
        "inner.on_run_end", "outer.on_run_end",
    ]  # fmt: skip
    assert len(provider.calls) == 3  # Retry recovered the overloaded call inside the step
    assert len(clock.sleeps) == 1
    tool_result = result.state.messages[2].content or ""
    assert "a@b.io" not in tool_result and "REDACTED" in tool_result


async def test_cache_inner_to_compaction_keys_on_the_compacted_request() -> None:
    cache = Cache()
    provider = ScriptedProvider(["one", "two"])
    chain = [Compaction(max_messages=2, keep_last=1, note=False), cache]
    agent = Agent(provider, middleware=chain)
    await agent.run("same question", session_id="a")
    result = await agent.run("same question", session_id="b")
    assert result.answer == "one" and len(provider.calls) == 1
    # a longer session compacts to the same single message, so it hits too
    again = await agent.run("same question", session_id="a")
    assert again.answer == "one" and len(provider.calls) == 1


async def test_cost_tracking_inner_to_cache_makes_hits_free() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0, requests=1)
    provider = ScriptedProvider([ModelResponse(message=Message.assistant("hi"), usage=usage)])
    agent = Agent(provider, middleware=[Cache(), CostTracking(1.0, 1.0)])
    first = await agent.run("q")
    second = await agent.run("q")
    assert first.usage.cost_usd == pytest.approx(1.0)
    assert second.usage.cost_usd == 0.0
