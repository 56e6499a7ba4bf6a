"""Offline agents and small tools shared by the orchestration tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel

from spine_core import (
    Agent,
    CheckpointStore,
    FunctionProvider,
    InMemoryCheckpointStore,
    Message,
    Role,
    State,
    ToolCall,
)


def last_user(messages: list[Message]) -> str:
    """The text of the latest user message."""
    return next(m.text for m in reversed(messages) if m.role is Role.USER)


def tool_results(messages: list[Message]) -> list[Message]:
    """Tool results after the latest user message."""
    start = max(i for i, m in enumerate(messages) if m.role is Role.USER)
    return [m for m in messages[start:] if m.role is Role.TOOL]


class Barrier:
    """Holds every caller until `parties` have arrived, so that many runs are in flight at
    the same moment (no timing involved)."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.arrived = 0
        self.event = anyio.Event()

    async def wait(self) -> None:
        self.arrived += 1
        if self.arrived >= self.parties:
            self.event.set()
        await self.event.wait()


def replier(
    fmt: str,
    *,
    barrier: Barrier | None = None,
    calls: list[str] | None = None,
) -> FunctionProvider:
    """A provider answering `fmt.format(text=<latest user text>)`, optionally waiting at
    `barrier` first and recording each prompt in `calls`."""

    async def reply(messages: list[Message], tools: Any, settings: Any) -> str:
        text = last_user(messages)
        if calls is not None:
            calls.append(text)
        if barrier is not None:
            await barrier.wait()
        return fmt.format(text=text)

    return FunctionProvider(reply)


def agent(
    name: str,
    fmt: str = "{text}",
    *,
    checkpoint: CheckpointStore | None = None,
    barrier: Barrier | None = None,
    calls: list[str] | None = None,
    **kwargs: Any,
) -> Agent:
    return Agent(
        replier(fmt, barrier=barrier, calls=calls), name=name, checkpoint=checkpoint, **kwargs
    )


def calls_tool_then_answers(
    tool: str, arguments: dict[str, Any], answer: Callable[[str, str], str]
) -> FunctionProvider:
    """First call: ask for `tool`; after its result: `answer(task, result text)`."""

    def script(messages: list[Message], tools: Any, settings: Any) -> Message:
        results = tool_results(messages)
        if not results:
            return Message.assistant(tool_calls=[ToolCall(id="c1", name=tool, arguments=arguments)])
        return Message.assistant(answer(last_user(messages), results[-1].text))

    return FunctionProvider(script)


class YieldingStore(InMemoryCheckpointStore):
    """Lets other tasks run between reading a session and acting on it (as a networked store
    does), so that two resumers both read the same pause."""

    async def get(self, session_id: str) -> State | None:
        state = await super().get(session_id)
        await anyio.lowlevel.checkpoint()
        return state
