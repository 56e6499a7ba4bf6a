from __future__ import annotations

import multiprocessing
import os
from typing import Any

import anyio
import pytest

from spine_core import Agent, InMemoryCheckpointStore, Message, ScriptedProvider, ToolCall, tool
from spine_middleware import Sandbox, ToolTimeout

pytestmark = pytest.mark.anyio


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: First.
        b: Second.
    """
    return a + b


@tool
def where() -> int:
    """The process id the tool runs in."""
    return os.getpid()


@tool
async def where_async() -> int:
    """The process id (an async tool)."""
    return os.getpid()


@tool(approve=True)
def where_approved() -> int:
    """The process id, after approval."""
    return os.getpid()


@tool
def spin() -> str:
    """Burn CPU forever."""
    n = 0
    while True:
        n += 1


@tool
def hog() -> str:
    """Allocate far too much memory."""
    blocks = [bytearray(64 * 1024 * 1024) for _ in range(64)]
    return str(len(blocks))


TOOLS = [add, where, where_async, where_approved, spin, hog]


def calls(*names: str, **arguments: Any) -> Message:
    return Message.assistant(
        tool_calls=[ToolCall(id=str(i), name=n, arguments=arguments) for i, n in enumerate(names)]
    )


def tool_results(messages: list[Message]) -> list[tuple[str, bool]]:
    return [(m.text, m.is_error) for m in messages if m.role == "tool"]


async def test_sync_tools_run_in_a_child_process_and_hogs_are_killed() -> None:
    provider = ScriptedProvider(
        [calls("add", a=2, b=3), calls("where", "where_async"), calls("spin"), calls("hog"), "done"]
    )
    sandbox = Sandbox(timeout_s=20, max_cpu_s=1, max_memory_mb=128)
    result = await Agent(provider, tools=TOOLS, middleware=[sandbox]).run("go")
    assert result.answer == "done"
    (added, _), (child, _), (parent, _), spun, hogged = tool_results(result.state.messages)
    assert added == "5"
    assert int(child) != os.getpid()
    assert (
        int(parent) != os.getpid()
    )  # async tools are sandboxed too (the reference ran them in-process)
    assert spun == ("Tool 'spin' failed: SandboxLimitError: CPU time limit of 1 s exceeded", True)
    assert hogged[1] and "memory limit of 128 MiB exceeded" in hogged[0]


async def test_wall_clock_limit_kills_the_child() -> None:
    provider = ScriptedProvider([calls("spin"), "done"])
    agent = Agent(provider, tools=TOOLS, middleware=[Sandbox(timeout_s=1.5, max_cpu_s=None)])
    with anyio.fail_after(20):
        result = await agent.run("go")
    [(text, is_error)] = tool_results(result.state.messages)
    assert is_error and "wall-clock limit of 1.5 s exceeded" in text
    assert multiprocessing.active_children() == []


async def test_a_shorter_tool_timeout_bounds_the_child_too() -> None:
    provider = ScriptedProvider([calls("spin"), "done"])
    middleware = [ToolTimeout(1.0), Sandbox(timeout_s=30, max_cpu_s=None)]
    with anyio.fail_after(20):
        result = await Agent(provider, tools=TOOLS, middleware=middleware).run("go")
    assert tool_results(result.state.messages) == [("Tool 'spin' timed out after 1 s", True)]
    with anyio.fail_after(5):
        while multiprocessing.active_children():
            await anyio.sleep(0.05)


async def test_only_the_named_tools_are_sandboxed_and_arguments_are_still_validated() -> None:
    provider = ScriptedProvider([calls("where"), calls("add", a="two", b=3), "done"])
    result = await Agent(provider, tools=TOOLS, middleware=[Sandbox(tools=["add"])]).run("go")
    (pid, _), (invalid, is_error) = tool_results(result.state.messages)
    assert int(pid) == os.getpid()
    assert is_error and invalid.startswith("Invalid arguments for tool 'add'") and "a:" in invalid


async def test_an_approved_call_is_sandboxed_too() -> None:
    store = InMemoryCheckpointStore()
    agent = Agent(
        ScriptedProvider([calls("where_approved"), "done"]),
        tools=TOOLS,
        checkpoint=store,
        middleware=[Sandbox()],
    )
    paused = await agent.run("go")
    assert paused.interrupted and paused.resume_token is not None
    result = await agent.resume(paused.resume_token, "approve")
    [(pid, is_error)] = tool_results(result.state.messages)
    assert not is_error and int(pid) != os.getpid()


def test_the_documented_defaults_and_limit_checks() -> None:
    sandbox = Sandbox()
    assert (sandbox.tools, sandbox.timeout_s, sandbox.max_cpu_s, sandbox.max_memory_mb) == (
        None,
        5.0,
        5,
        512,
    )
    with pytest.raises(ValueError):
        Sandbox(max_memory_mb=0)
