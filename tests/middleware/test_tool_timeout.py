from __future__ import annotations

import anyio
import pytest

from spine_core import Agent, InMemoryCheckpointStore, Message, ScriptedProvider, ToolCall, tool
from spine_middleware import ToolTimeout

pytestmark = pytest.mark.anyio


@tool
async def hang() -> str:
    """Never returns."""
    await anyio.Event().wait()
    return "unreachable"


@tool
async def nap() -> str:
    """Sleeps a little, then returns."""
    await anyio.sleep(0.2)
    return "rested"


@tool
async def quick() -> str:
    """Returns at once."""
    return "quick"


@tool(approve=True)
async def guarded_hang() -> str:
    """Needs approval, then never returns."""
    await anyio.Event().wait()
    return "unreachable"


def calls(*names: str) -> Message:
    return Message.assistant(tool_calls=[ToolCall(id=str(i), name=n) for i, n in enumerate(names)])


def tool_results(provider: ScriptedProvider, call: int) -> list[tuple[str, bool]]:
    return [(m.text, m.is_error) for m in provider.calls[call].messages if m.role == "tool"]


async def test_slow_tool_becomes_a_tool_error_the_model_sees() -> None:
    provider = ScriptedProvider([calls("hang", "quick"), "done"])
    agent = Agent(provider, tools=[hang, quick], middleware=[ToolTimeout(0.05)])
    with anyio.fail_after(5):
        result = await agent.run("go")
    assert result.ok and result.answer == "done"
    assert tool_results(provider, 1) == [
        ("Tool 'hang' timed out after 0.05 s", True),
        ("quick", False),
    ]


async def test_tools_restricts_the_timeout_to_the_named_tools() -> None:
    provider = ScriptedProvider([calls("nap"), "done"])
    agent = Agent(provider, tools=[nap], middleware=[ToolTimeout(0.05, tools=["quick"])])
    await agent.run("go")
    assert tool_results(provider, 1) == [("rested", False)]

    provider = ScriptedProvider([calls("nap"), "done"])
    agent = Agent(provider, tools=[nap], middleware=[ToolTimeout(0.05, tools=["nap"])])
    await agent.run("go")
    assert tool_results(provider, 1) == [("Tool 'nap' timed out after 0.05 s", True)]


async def test_per_tool_limits_override_the_default() -> None:
    provider = ScriptedProvider([calls("nap", "hang"), "done"])
    mw = ToolTimeout(5, per_tool={"hang": 0.05})
    with anyio.fail_after(5):
        await Agent(provider, tools=[nap, hang], middleware=[mw]).run("go")
    assert tool_results(provider, 1) == [
        ("rested", False),
        ("Tool 'hang' timed out after 0.05 s", True),
    ]


async def test_the_shorter_of_two_limits_wins() -> None:
    provider = ScriptedProvider([calls("nap"), "done"])
    agent = Agent(provider, tools=[nap], middleware=[ToolTimeout(0.05), ToolTimeout(10)])
    await agent.run("go")
    assert tool_results(provider, 1) == [("Tool 'nap' timed out after 0.05 s", True)]


async def test_an_approved_call_is_bounded_too() -> None:
    store = InMemoryCheckpointStore()
    first = Agent(
        ScriptedProvider([calls("guarded_hang")]),
        tools=[guarded_hang],
        checkpoint=store,
        middleware=[ToolTimeout(0.05)],
    )
    paused = await first.run("go")
    assert paused.interrupted and paused.resume_token is not None

    provider = ScriptedProvider(["gave up"])
    second = Agent(provider, tools=[guarded_hang], checkpoint=store, middleware=[ToolTimeout(0.05)])
    with anyio.fail_after(5):
        result = await second.resume(paused.resume_token, "approve")
    assert result.answer == "gave up"
    assert tool_results(provider, 0) == [("Tool 'guarded_hang' timed out after 0.05 s", True)]


@pytest.mark.parametrize("bad", [{"timeout_s": 0}, {"timeout_s": -1}, {"per_tool": {"x": 0}}])
def test_non_positive_limits_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ToolTimeout(**bad)  # type: ignore[arg-type]
